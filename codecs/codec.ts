// The contract of a chunk encoding: one record per encoding (codecs/registry.ts lists them), pure
// functions between x-fastest [x, y, z, c] arrays and a chunk's bytes, plus what the rest of digest
// needs to know about the encoding (its bounds, gzip default, content type, estimate figures).
import { Vec3 } from '../common/box.js';
import { DataType, TypedArray } from '../common/dtype.js';
import type { GzipOptions } from '../storage/gzip.js';

/** What a chunk's bytes depend on besides its shape. */
export interface ChunkFormat {
  encoding: string;
  dataType: DataType;
  channels: number;
  /** compressed_segmentation's block size. */
  blockSize?: Vec3;
  /** The layer's gzip setting (info key "gzip"); absent: the codec's default. */
  gzip?: GzipOptions | false;
}

export interface ChunkCodec {
  /** Why a layer of this data type and channel count cannot use the encoding, or undefined. */
  refuses(dataType: DataType, channels: number): string | undefined;
  /** Whether a scale of this encoding needs compressed_segmentation_block_size. */
  blockSize?: true;
  encode(array: TypedArray, shape: Vec3, f: ChunkFormat): Uint8Array;
  /**
   * The chunk's voxels. `transient`: the caller copies them out before its next decode (Volume.read),
   * so they may stay in memory this thread reuses instead of a fresh array.
   */
  decode(bytes: Uint8Array, shape: Vec3, f: ChunkFormat, transient: boolean): TypedArray;
  /** The most bytes a chunk of `raw` bytes of voxels can take, so that a read refuses more unread. */
  maxBytes(raw: number, shape: Vec3, f: ChunkFormat): number;
  /** How chunks are gzipped when the layer does not say (measured: bench/RESULTS.md, issue 13). */
  gzip(f: ChunkFormat): GzipOptions | false;
  contentType: string;
  /** Decoding gives other values than were encoded (the next mip is made from what was stored). */
  lossy: boolean;
  /** The bytes are compressed already: a shard stores them raw. */
  compressed: boolean;
  /** Stored bytes per raw byte on EM data, for plan estimates. */
  compression: number;
}
