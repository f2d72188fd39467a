// raw chunk encoding: little-endian voxels in [x, y, z, channel] Fortran order, no header.
import { CorruptData } from '../common/errors.js';
import { Vec3 } from '../common/box.js';
import { BYTES_PER_VOXEL, DataType, fromBytes, toBytes, TypedArray } from '../common/dtype.js';
import { ChunkCodec } from './codec.js';

export function encodeRaw(array: TypedArray): Uint8Array {
  return toBytes(array);
}

export function decodeRaw(bytes: Uint8Array, shape: Vec3, channels: number, dtype: DataType): TypedArray {
  const expected = shape[0] * shape[1] * shape[2] * channels * BYTES_PER_VOXEL[dtype];
  if (bytes.byteLength !== expected) {
    throw new CorruptData(`raw chunk has ${bytes.byteLength} bytes, expected ${expected} for shape [${shape}] x ${channels} channel(s) of ${dtype}`);
  }
  return fromBytes(dtype, bytes);
}

/** Little-endian voxels; raw images gzip Huffman-only (EM barely has repeated strings), labels at level 4. */
export const rawCodec: ChunkCodec = {
  refuses: () => undefined,
  encode: (array) => encodeRaw(array),
  decode: (bytes, shape, f) => decodeRaw(bytes, shape, f.channels, f.dataType),
  maxBytes: (raw) => raw,
  gzip: (f) => (f.dataType === 'uint32' || f.dataType === 'uint64' ? { level: 4, strategy: 'default' } : { level: 6, strategy: 'huffman' }),
  contentType: 'application/octet-stream',
  lossy: false,
  compressed: false,
  compression: 0.9,
};
