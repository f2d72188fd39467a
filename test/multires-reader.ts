// An independent reader of Neuroglancer multi-resolution meshes for tests, written from meshes.md
// and sharing no code with digest's writer: its own manifest parser, draco3d's decoder, and the
// test shard reader (test/sharded-reader.ts) for sharded meshes.
import draco3d, { DecoderModule } from 'draco3d';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chunkFromShardFile, idsInShardFile, shardFileOf, SpecJson } from './sharded-reader.js';

export interface MeshInfo {
  '@type': string;
  vertex_quantization_bits: number;
  transform: number[];
  lod_scale_multiplier: number;
  sharding?: SpecJson;
}

export interface Manifest {
  chunkShape: number[];
  gridOrigin: number[];
  lodScales: number[];
  vertexOffsets: number[][];
  /** Per lod: node positions and fragment byte sizes. */
  lods: { positions: number[][]; sizes: number[] }[];
  /** Bytes the manifest takes (it must be exactly its file). */
  bytes: number;
}

export function parseManifest(bytes: Uint8Array): Manifest {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  const f32 = () => ((o += 4), view.getFloat32(o - 4, true));
  const u32 = () => ((o += 4), view.getUint32(o - 4, true));
  const chunkShape = [f32(), f32(), f32()];
  const gridOrigin = [f32(), f32(), f32()];
  const numLods = u32();
  const lodScales = Array.from({ length: numLods }, f32);
  const vertexOffsets = Array.from({ length: numLods }, () => [f32(), f32(), f32()]);
  const counts = Array.from({ length: numLods }, u32);
  const lods = counts.map((n) => {
    const xs = Array.from({ length: n }, u32),
      ys = Array.from({ length: n }, u32),
      zs = Array.from({ length: n }, u32);
    const sizes = Array.from({ length: n }, u32);
    return { positions: xs.map((x, i) => [x, ys[i], zs[i]]), sizes };
  });
  return { chunkShape, gridOrigin, lodScales, vertexOffsets, lods, bytes: o };
}

let decoder: Promise<DecoderModule> | undefined;

/** A Draco mesh's integer positions and triangles. */
export async function decodeDraco(bytes: Uint8Array): Promise<{ positions: Int32Array; triangles: Uint32Array }> {
  const m = await (decoder ??= draco3d.createDecoderModule({}));
  const buffer = new m.DecoderBuffer();
  const d = new m.Decoder();
  const mesh = new m.Mesh();
  const values = new m.DracoInt32Array();
  const face = new m.DracoInt32Array();
  try {
    buffer.Init(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes.length);
    const status = d.DecodeBufferToMesh(buffer, mesh);
    if (!status.ok()) throw new Error(`draco: ${status.error_msg()}`);
    d.GetAttributeInt32ForAllPoints(mesh, d.GetAttribute(mesh, d.GetAttributeId(mesh, m.POSITION)), values);
    const positions = new Int32Array(values.size());
    for (let i = 0; i < positions.length; i++) positions[i] = values.GetValue(i);
    const triangles = new Uint32Array(3 * mesh.num_faces());
    for (let f = 0; f < mesh.num_faces(); f++) {
      d.GetFaceFromMesh(mesh, f, face);
      for (let k = 0; k < 3; k++) triangles[3 * f + k] = face.GetValue(k);
    }
    return { positions, triangles };
  } finally {
    for (const o of [face, values, mesh, d, buffer]) m.destroy(o);
  }
}

export interface ReadFragment {
  lod: number;
  position: number[];
  /** Model-space (nm) positions, through the info's transform. */
  positions: Float64Array;
  /** Stored-model positions. */
  stored: Float64Array;
  triangles: Uint32Array;
}

/** Every fragment of a segment, from a mesh directory on disk (unsharded or sharded). */
export async function readSegmentMesh(dir: string, id: bigint): Promise<{ info: MeshInfo; manifest: Manifest; fragments: ReadFragment[] } | null> {
  const info = JSON.parse(await readFile(join(dir, 'info'), 'utf8')) as MeshInfo;
  let manifestBytes: Uint8Array, data: Uint8Array;
  if (info.sharding) {
    const file = new Uint8Array(await readFile(join(dir, shardFileOf(id, info.sharding))));
    const found = chunkFromShardFile(file, id, info.sharding);
    if (!found) return null;
    manifestBytes = found;
    const manifestStart = found.byteOffset - file.byteOffset;
    const total = parseManifest(found).lods.reduce((n, l) => n + l.sizes.reduce((a, b) => a + b, 0), 0);
    data = file.subarray(manifestStart - total, manifestStart);
  } else {
    try {
      manifestBytes = new Uint8Array(await readFile(join(dir, `${id}.index`)));
    } catch {
      return null;
    }
    data = new Uint8Array(await readFile(join(dir, `${id}`)));
  }
  const manifest = parseManifest(manifestBytes);
  if (manifest.bytes !== manifestBytes.length) throw new Error(`manifest of ${id}: ${manifestBytes.length} bytes, parsed ${manifest.bytes}`);
  const top = 2 ** info.vertex_quantization_bits - 1;
  const t = info.transform;
  const fragments: ReadFragment[] = [];
  let offset = 0;
  for (const [lod, level] of manifest.lods.entries()) {
    for (const [i, position] of level.positions.entries()) {
      const size = level.sizes[i];
      // A 0-byte fragment is empty (Neuroglancer marks it so).
      const { positions, triangles } =
        size === 0 ? { positions: new Int32Array(0), triangles: new Uint32Array(0) } : await decodeDraco(data.subarray(offset, offset + size));
      offset += size;
      const stored = new Float64Array(positions.length);
      for (let v = 0; v < positions.length; v++) {
        const d = v % 3;
        if (positions[v] < 0 || positions[v] > top) throw new Error(`segment ${id} lod ${lod}: position ${positions[v]} outside [0, ${top}]`);
        stored[v] = manifest.gridOrigin[d] + manifest.vertexOffsets[lod][d] + manifest.chunkShape[d] * 2 ** lod * (position[d] + positions[v] / top);
      }
      const model = new Float64Array(stored.length);
      for (let v = 0; v < stored.length; v += 3)
        for (let r = 0; r < 3; r++) model[v + r] = t[4 * r] * stored[v] + t[4 * r + 1] * stored[v + 1] + t[4 * r + 2] * stored[v + 2] + t[4 * r + 3];
      fragments.push({ lod, position, positions: model, stored, triangles });
    }
  }
  if (offset !== data.length) throw new Error(`segment ${id}: fragments take ${offset} of ${data.length} bytes`);
  return { info, manifest, fragments };
}

/** The segment ids a mesh directory on disk has meshes for: `<id>.index` files, or the ids in its shards. */
export async function meshedSegments(dir: string): Promise<Set<bigint>> {
  const info = JSON.parse(await readFile(join(dir, 'info'), 'utf8')) as MeshInfo;
  const names = await readdir(dir);
  if (!info.sharding) return new Set(names.flatMap((n) => (/^\d+\.index$/.test(n) ? [BigInt(n.slice(0, -6))] : [])));
  const ids = new Set<bigint>();
  for (const n of names.filter((n) => n.endsWith('.shard')))
    for (const id of idsInShardFile(new Uint8Array(await readFile(join(dir, n))), info.sharding)) ids.add(id);
  return ids;
}
