// Picks the codec for a scale's encoding: precomputed chunk bytes <-> x-fastest [x, y, z, c] arrays.
import { Vec3 } from '../precomputed/box.js';
import { BYTES_PER_VOXEL, DataType, TypedArray } from '../precomputed/dtype.js';
import { Scale } from '../precomputed/info.js';
import { decodeCompressedSegmentation, encodeCompressedSegmentation } from './compressed-segmentation.js';
import { decodeJpeg, encodeJpeg } from './jpeg.js';
import { decodePng, encodePng } from './png.js';
import { decodeRaw, encodeRaw } from './raw.js';

export interface ChunkFormat {
  scale: Scale;
  dataType: DataType;
  channels: number;
}

export function encodeChunk(array: TypedArray, shape: Vec3, f: ChunkFormat): Uint8Array {
  switch (f.scale.encoding) {
    case 'raw': return encodeRaw(array);
    case 'compressed_segmentation':
      return encodeCompressedSegmentation(array as Uint32Array | BigUint64Array, shape, f.channels, f.scale.compressed_segmentation_block_size!);
    case 'jpeg': return encodeJpeg(array as Uint8Array, shape, f.channels);
    case 'png': return encodePng(array as Uint8Array | Uint16Array, shape, f.channels);
  }
}

export function decodeChunk(bytes: Uint8Array, shape: Vec3, f: ChunkFormat): TypedArray {
  switch (f.scale.encoding) {
    case 'raw': return decodeRaw(bytes, shape, f.channels, f.dataType);
    case 'compressed_segmentation':
      return decodeCompressedSegmentation(bytes, shape, f.channels, f.scale.compressed_segmentation_block_size!, f.dataType as 'uint32' | 'uint64');
    case 'jpeg': return decodeJpeg(bytes, shape, f.channels);
    case 'png': return decodePng(bytes, shape, f.channels, f.dataType as 'uint8' | 'uint16');
  }
}

/**
 * The most bytes a chunk of `voxels` voxels can take in this encoding, so that a read can refuse a
 * corrupt or hostile object before inflating it: raw is exact; compressed_segmentation at worst stores
 * a 32-bit index and a table entry per voxel, plus headers; jpeg and png are bounded generously.
 */
export function maxEncodedBytes(f: ChunkFormat, voxels: number): number {
  const raw = voxels * f.channels * BYTES_PER_VOXEL[f.dataType];
  switch (f.scale.encoding) {
    case 'raw': return raw;
    case 'compressed_segmentation': return 4 * f.channels * (1 + 4 * voxels) + 64;
    case 'jpeg': case 'png': return 4 * raw + 65_536;
  }
}

/** raw and compressed_segmentation shrink a lot under gzip; jpeg and png are already compressed. */
export function gzipTransport(f: ChunkFormat): boolean {
  return f.scale.encoding === 'raw' || f.scale.encoding === 'compressed_segmentation';
}

export function contentType(f: ChunkFormat): string {
  return f.scale.encoding === 'jpeg' ? 'image/jpeg' : f.scale.encoding === 'png' ? 'image/png' : 'application/octet-stream';
}
