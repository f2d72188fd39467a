// Draco encoding of multi-resolution mesh fragments with npm draco3d (Google's encoder compiled to
// WebAssembly): positions as an integer attribute, already quantized by the caller, because
// Neuroglancer's multilod_draco format does not support Draco's own attribute quantization.
import draco3d, { EncoderModule } from 'draco3d';

let encoder: Promise<EncoderModule> | undefined;

/** The encoder module, made once per thread (its WebAssembly instance is reused by every call). */
function encoderModule(): Promise<EncoderModule> {
  encoder ??= draco3d.createEncoderModule({});
  return encoder;
}

/**
 * One Draco mesh (edgebreaker) of `positions` (x, y, z per vertex, integers the caller quantized)
 * and `triangles` (three vertex indices each). An empty mesh is 0 bytes.
 */
export async function encodeDracoMesh(positions: Int32Array, triangles: Uint32Array): Promise<Uint8Array> {
  if (triangles.length === 0) return new Uint8Array(0);
  const m = await encoderModule();
  const builder = new m.MeshBuilder();
  const mesh = new m.Mesh();
  const enc = new m.Encoder();
  const out = new m.DracoInt8Array();
  try {
    builder.AddFacesToMesh(mesh, triangles.length / 3, triangles);
    builder.AddInt32AttributeToMesh(mesh, m.POSITION, positions.length / 3, 3, positions);
    enc.SetEncodingMethod(m.MESH_EDGEBREAKER_ENCODING);
    // Speed 5 of 10 for both: Draco's default balance of size and encode/decode time.
    enc.SetSpeedOptions(5, 5);
    const length = enc.EncodeMeshToDracoBuffer(mesh, out);
    if (length <= 0) throw new Error(`Draco could not encode a mesh of ${positions.length / 3} vertices and ${triangles.length / 3} triangles`);
    const bytes = new Uint8Array(length);
    for (let i = 0; i < length; i++) bytes[i] = out.GetValue(i) & 0xff;
    return bytes;
  } finally {
    m.destroy(out);
    m.destroy(enc);
    m.destroy(mesh);
    m.destroy(builder);
  }
}
