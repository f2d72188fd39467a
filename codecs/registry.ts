// The chunk encodings digest reads and writes, by their info name. Adding one: a module exporting a
// ChunkCodec (codecs/codec.ts), and one line here.
import { BYTES_PER_VOXEL, TypedArray } from '../common/dtype.js';
import { InvalidInput } from '../common/errors.js';
import { Vec3 } from '../common/box.js';
import type { GzipOptions } from '../storage/gzip.js';
import { ChunkCodec, ChunkFormat } from './codec.js';
import { compressedSegmentationCodec } from './compressed-segmentation.js';
import { jpegCodec } from './jpeg.js';
import { pngCodec } from './png.js';
import { rawCodec } from './raw.js';

export type { ChunkCodec, ChunkFormat } from './codec.js';

const CODECS = {
  raw: rawCodec,
  jpeg: jpegCodec,
  png: pngCodec,
  compressed_segmentation: compressedSegmentationCodec,
} satisfies Record<string, ChunkCodec>;

export type Encoding = keyof typeof CODECS;
export const ENCODINGS = Object.keys(CODECS) as Encoding[];

export function isEncoding(name: unknown): name is Encoding {
  return typeof name === 'string' && Object.hasOwn(CODECS, name);
}

export function codecOf(encoding: string): ChunkCodec {
  if (!isEncoding(encoding)) throw new InvalidInput(`unknown chunk encoding "${encoding}" (known: ${ENCODINGS.join(', ')})`);
  return CODECS[encoding];
}

export function encodeChunk(array: TypedArray, shape: Vec3, f: ChunkFormat): Uint8Array {
  return codecOf(f.encoding).encode(array, shape, f);
}

/** The chunk's voxels (`transient`: see ChunkCodec.decode). */
export function decodeChunk(bytes: Uint8Array, shape: Vec3, f: ChunkFormat, transient = false): TypedArray {
  return codecOf(f.encoding).decode(bytes, shape, f, transient);
}

/** The most bytes a chunk of `voxels` voxels can take, so that a read refuses a larger object unread. */
export function maxEncodedBytes(f: ChunkFormat, shape: Vec3): number {
  const voxels = shape[0] * shape[1] * shape[2];
  return codecOf(f.encoding).maxBytes(voxels * f.channels * BYTES_PER_VOXEL[f.dataType], shape, f);
}

/** How a chunk is gzipped when stored (the layer's setting, else the codec's default), or false. */
export function gzipOptions(f: ChunkFormat): GzipOptions | false {
  return f.gzip !== undefined ? f.gzip : codecOf(f.encoding).gzip(f);
}

export function contentType(f: ChunkFormat): string {
  return codecOf(f.encoding).contentType;
}
