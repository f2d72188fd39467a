// Picks the codec for a scale's encoding: precomputed chunk bytes <-> x-fastest [x, y, z, c] arrays.
import { Vec3 } from '../common/box.js';
import { BYTES_PER_VOXEL, DataType, TypedArray } from '../common/dtype.js';
import { Scale } from '../precomputed/info.js';
import { decodeCompressedSegmentation, encodeCompressedSegmentation } from './compressed-segmentation.js';
import { decodeJpeg, encodeJpeg } from './jpeg.js';
import { decodePng, encodePng } from './png.js';
import { decodeRaw, encodeRaw } from './raw.js';
import type { GzipOptions } from '../storage/gzip.js';

export interface ChunkFormat {
  scale: Scale;
  dataType: DataType;
  channels: number;
  /** The layer's gzip setting (info key "gzip"); absent: chosen by encoding and data type. */
  gzip?: GzipOptions | false;
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

/**
 * The chunk's voxels. `transient`: the caller copies them out before its next decode (Volume.read), so
 * they may stay in memory this thread reuses (compressed_segmentation does) instead of a fresh array.
 */
export function decodeChunk(bytes: Uint8Array, shape: Vec3, f: ChunkFormat, transient = false): TypedArray {
  switch (f.scale.encoding) {
    case 'raw': return decodeRaw(bytes, shape, f.channels, f.dataType);
    case 'compressed_segmentation':
      return decodeCompressedSegmentation(bytes, shape, f.channels, f.scale.compressed_segmentation_block_size!, f.dataType as 'uint32' | 'uint64', transient);
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

/**
 * How a chunk is gzipped when stored, or false for not at all. Defaults measured on EM chunks
 * (bench/RESULTS.md, issue 13): jpeg and png are compressed already; raw images (noisy EM) shrink only
 * to ~90% whatever the effort, and Huffman coding alone gets there 3x faster than the default search;
 * label arrays (raw segmentation, compressed_segmentation) shrink 3-40x and level 4 is the knee.
 */
export function gzipOptions(f: ChunkFormat): GzipOptions | false {
  if (f.gzip !== undefined) return f.gzip;
  switch (f.scale.encoding) {
    case 'jpeg': case 'png': return false;
    case 'compressed_segmentation': return { level: 4, strategy: 'default' };
    case 'raw': return f.dataType === 'uint32' || f.dataType === 'uint64' ? { level: 4, strategy: 'default' } : { level: 6, strategy: 'huffman' };
  }
}

export function contentType(f: ChunkFormat): string {
  return f.scale.encoding === 'jpeg' ? 'image/jpeg' : f.scale.encoding === 'png' ? 'image/png' : 'application/octet-stream';
}
