// The sharded format of Neuroglancer precomputed volumes (neuroglancer_uint64_sharded_v1, as in
// google/neuroglancer src/datasource/precomputed/sharded.md and volume.md): chunk ids are compressed
// Morton codes of grid cells; an id is hashed (identity or murmurhash3_x86_128 of id >> preshift_bits)
// into a minishard (low minishard_bits) and a shard (the next shard_bits). A shard file is a shard
// index (2^minishard_bits [start, end) uint64 pairs) followed by chunk data and minishard indices
// (delta-coded [3, n] uint64 arrays: ids, offsets, sizes), all offsets relative to the index's end.
import * as v from 'valibot';
import { CorruptData, InvalidInput } from '../common/errors.js';
import { choice, integer, record } from '../common/schema.js';
import { DEFAULT_GZIP, gunzip, gzip, GzipOptions } from '../storage/gzip.js';
import type { Spilled } from '../storage/spill.js';
import { Vec3 } from '../common/box.js';

const ENCODING = choice(['raw', 'gzip']);

export const shardingSchema = record({
  '@type': v.literal('neuroglancer_uint64_sharded_v1', 'must be "neuroglancer_uint64_sharded_v1"'),
  preshift_bits: integer(0, 64),
  hash: choice(['identity', 'murmurhash3_x86_128']),
  minishard_bits: integer(0, 32),
  shard_bits: integer(0, 64),
  minishard_index_encoding: v.optional(ENCODING, 'raw'),
  data_encoding: v.optional(ENCODING, 'raw'),
});

export type ShardingSpec = v.InferOutput<typeof shardingSchema>;

// ---- chunk ids

/** Bits of each axis that the compressed Morton code uses: ceil(log2(grid size)). */
export function mortonBits(grid: Vec3): Vec3 {
  return grid.map((g) => (g <= 1 ? 0 : Math.ceil(Math.log2(g)))) as Vec3;
}

/** The compressed Morton code of grid cell `g` (volume.md: bit i of axis d is used while 2^i < grid[d]). */
export function compressedMortonCode(g: Vec3, grid: Vec3): bigint {
  const bits = mortonBits(grid);
  let code = 0n,
    j = 0n;
  for (let i = 0; i < Math.max(...bits); i++) {
    for (let d = 0; d < 3; d++) {
      if (i < bits[d]) {
        if ((g[d] / 2 ** i) % 2 >= 1) code |= 1n << j;
        j++;
      }
    }
  }
  return code;
}

/** The grid cell of a compressed Morton code (the inverse of compressedMortonCode). */
export function cellOfMortonCode(code: bigint, grid: Vec3): Vec3 {
  const bits = mortonBits(grid);
  const g: Vec3 = [0, 0, 0];
  let j = 0n;
  for (let i = 0; i < Math.max(...bits); i++) {
    for (let d = 0; d < 3; d++) {
      if (i < bits[d]) {
        if ((code >> j) & 1n) g[d] += 2 ** i;
        j++;
      }
    }
  }
  return g;
}

// ---- hashing

const MASK64 = (1n << 64n) - 1n;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;

/**
 * MurmurHash3_x86_128 (seed 0) of a uint64 in little-endian order, its low 8 bytes as a uint64:
 * the 8-byte key is all tail, so only the tail rounds and the finalization run.
 */
export function murmurHash3x86_128Low64(key: bigint, seed = 0): bigint {
  const lo = Number(key & 0xffffffffn) >>> 0,
    hi = Number((key >> 32n) & 0xffffffffn) >>> 0;
  let h1 = seed >>> 0,
    h2 = seed >>> 0,
    h3 = seed >>> 0,
    h4 = seed >>> 0;
  const c1 = 0x239b961b,
    c2 = 0xab0e9789,
    c3 = 0x38b34ae5;
  let k2 = Math.imul(hi, c2);
  k2 = rotl(k2, 16);
  k2 = Math.imul(k2, c3);
  h2 = (h2 ^ k2) >>> 0;
  let k1 = Math.imul(lo, c1);
  k1 = rotl(k1, 15);
  k1 = Math.imul(k1, c2);
  h1 = (h1 ^ k1) >>> 0;
  h1 ^= 8;
  h2 ^= 8;
  h3 ^= 8;
  h4 ^= 8;
  h1 = (h1 + h2 + h3 + h4) >>> 0;
  h2 = (h2 + h1) >>> 0;
  h3 = (h3 + h1) >>> 0;
  h4 = (h4 + h1) >>> 0;
  h1 = fmix32(h1);
  h2 = fmix32(h2);
  h3 = fmix32(h3);
  h4 = fmix32(h4);
  h1 = (h1 + h2 + h3 + h4) >>> 0;
  h2 = (h2 + h1) >>> 0;
  return (BigInt(h2) << 32n) | BigInt(h1);
}

export interface ShardLocation {
  shard: number;
  minishard: number;
}

export function locateChunk(id: bigint, spec: ShardingSpec): ShardLocation {
  const shifted = (id >> BigInt(spec.preshift_bits)) & MASK64;
  const hashed = spec.hash === 'identity' ? shifted : murmurHash3x86_128Low64(shifted);
  const minishard = Number(hashed & ((1n << BigInt(spec.minishard_bits)) - 1n));
  const shard = Number((hashed >> BigInt(spec.minishard_bits)) & ((1n << BigInt(spec.shard_bits)) - 1n));
  return { shard, minishard };
}

/** `<shard>.shard`, the shard number in lowercase hex padded to ceil(shard_bits / 4) digits. */
export function shardFileName(shard: number, spec: ShardingSpec): string {
  return `${shard.toString(16).padStart(Math.ceil(spec.shard_bits / 4), '0')}.shard`;
}

// ---- shard geometry

/**
 * Shards are "compact" when each is one aligned block of grid cells: identity hash and no wrap-around
 * (every Morton bit above preshift + minishard bits lands in the shard number). Then shard s holds the
 * codes [s << low, (s + 1) << low); the block's extent per axis is 2^(the low bits of that axis).
 */
export function compactShardShape(spec: ShardingSpec, grid: Vec3): Vec3 | null {
  const bits = mortonBits(grid);
  const total = bits[0] + bits[1] + bits[2];
  const low = spec.preshift_bits + spec.minishard_bits;
  if (spec.hash !== 'identity' || total > low + spec.shard_bits) return null;
  const shape: Vec3 = [1, 1, 1];
  let j = 0;
  for (let i = 0; j < low && i < Math.max(...bits); i++) {
    for (let d = 0; d < 3 && j < low; d++)
      if (i < bits[d]) {
        shape[d] *= 2;
        j++;
      }
  }
  return shape;
}

// ---- shard files

export interface ShardEntry {
  id: bigint;
  /**
   * The chunk as stored before data_encoding (e.g. a raw or compressed_segmentation chunk), held or
   * waiting in a spill file (then `stored`).
   */
  bytes: Uint8Array | Spilled;
  /**
   * Bytes stored just before the value and not indexed: a multi-resolution mesh's fragment data,
   * which precedes its manifest in the shard (meshes.md); never data_encoded.
   */
  prefix?: Uint8Array;
  /** `bytes` have the data_encoding applied already (gzipped as they were made, to hold less). */
  stored?: boolean;
}

/**
 * One shard file of `entries` (all in this shard, ids distinct), as the pieces it is made of in
 * order (the shard index first; spilled chunks stay in their spill). Layout as tensorstore writes
 * it: for each minishard in order, its chunks' data sorted by id, then its minishard index.
 */
export function shardPieces(entries: ShardEntry[], spec: ShardingSpec, gzipOptions: GzipOptions = DEFAULT_GZIP): (Uint8Array | Spilled)[] {
  const minishards = 2 ** spec.minishard_bits;
  const byMinishard: ShardEntry[][] = Array.from({ length: minishards }, () => []);
  for (const e of entries) byMinishard[locateChunk(e.id, spec).minishard].push(e);
  const shardIndex = new BigUint64Array(2 * minishards);
  const parts: (Uint8Array | Spilled)[] = [new Uint8Array(shardIndex.buffer)];
  let offset = 0;
  const append = (bytes: Uint8Array | Spilled) => {
    parts.push(bytes);
    offset += bytes.length;
  };
  for (let m = 0; m < minishards; m++) {
    const chunks = byMinishard[m].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (chunks.length === 0) {
      shardIndex[2 * m] = shardIndex[2 * m + 1] = BigInt(offset);
      continue;
    }
    const index = new BigUint64Array(3 * chunks.length);
    let previousId = 0n,
      previousEnd = 0;
    chunks.forEach((c, i) => {
      if (i > 0 && c.id === chunks[i - 1].id) throw new InvalidInput(`shard: chunk id ${c.id} given twice`);
      if (!(c.bytes instanceof Uint8Array) && !c.stored) throw new Error(`shard: chunk ${c.id} was spilled before its data_encoding`);
      const data = spec.data_encoding === 'gzip' && !c.stored ? gzip(c.bytes as Uint8Array, gzipOptions) : c.bytes;
      if (c.prefix) append(c.prefix);
      index[i] = c.id - previousId;
      index[chunks.length + i] = BigInt(offset - previousEnd);
      index[2 * chunks.length + i] = BigInt(data.length);
      previousId = c.id;
      append(data);
      previousEnd = offset;
    });
    const indexBytes = new Uint8Array(index.buffer);
    shardIndex[2 * m] = BigInt(offset);
    append(spec.minishard_index_encoding === 'gzip' ? gzip(indexBytes, gzipOptions) : indexBytes);
    shardIndex[2 * m + 1] = BigInt(offset);
  }
  return parts;
}

/** One shard file of held `entries` (see shardPieces), as bytes. */
export function encodeShard(entries: ShardEntry[], spec: ShardingSpec, gzipOptions: GzipOptions = DEFAULT_GZIP): Uint8Array {
  const parts = shardPieces(entries, spec, gzipOptions);
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const p of parts) {
    if (!(p instanceof Uint8Array)) throw new Error('encodeShard: a spilled chunk (write the shard with shardPieces)');
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Byte range of chunk data within a shard file. */
export interface ByteRange {
  start: number;
  end: number;
}

/** A decoded minishard index: chunk id -> absolute byte range in the shard file. */
export function decodeMinishardIndex(bytes: Uint8Array, spec: ShardingSpec, where: string, maxBytes: number): Map<bigint, ByteRange> {
  const raw = spec.minishard_index_encoding === 'gzip' ? gunzip(bytes, where, maxBytes) : bytes;
  if (raw.length % 24 !== 0) throw new CorruptData(`${where}: minishard index of ${raw.length} bytes is not a [3, n] uint64 array`);
  const n = raw.length / 24;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const base = 16 * 2 ** spec.minishard_bits;
  const out = new Map<bigint, ByteRange>();
  // Offsets and sizes stay uint64 until checked: a double would merge 2^60 + 32 and 2^60 + 80.
  let id = 0n,
    end = BigInt(base);
  for (let i = 0; i < n; i++) {
    id += view.getBigUint64(8 * i, true);
    const start = end + view.getBigUint64(8 * (n + i), true);
    end = start + view.getBigUint64(8 * (2 * n + i), true);
    if (end > BigInt(Number.MAX_SAFE_INTEGER)) throw new CorruptData(`${where}: minishard index entry ${i} points past 2^53`);
    const chunk = id & MASK64;
    if (out.has(chunk)) throw new CorruptData(`${where}: minishard index lists chunk ${chunk} twice (entry ${i})`);
    out.set(chunk, { start: Number(start), end: Number(end) });
  }
  return out;
}

// ---- choosing parameters

export interface ShardingChoice {
  /** Uncompressed bytes of the chunks in one shard (what a task holds while it writes one). */
  targetBytes: number;
  hash?: ShardingSpec['hash'];
  dataEncoding?: ShardingSpec['data_encoding'];
  minishardIndexEncoding?: ShardingSpec['minishard_index_encoding'];
  /** Explicit bit counts, each overriding what is computed. */
  preshiftBits?: number;
  minishardBits?: number;
  shardBits?: number;
}

/** Chunks per minishard beyond which a minishard index (24 bytes a chunk) gets slow to fetch. */
const MAX_CHUNKS_PER_MINISHARD = 1024;
/** Shard indices stay at most 8 KiB (16 bytes per minishard). */
const MAX_MINISHARD_BITS = 9;

/**
 * Parameters for one scale, in the manner of igneous' create_sharded_image_info: a power of two of
 * chunks per shard near `targetBytes`, minishards of at most about a thousand chunks, and, for identity
 * hashing, enough shard bits that no shard wraps around: each shard is then one aligned block of
 * chunks, so a task can write it from one region.
 */
export function chooseSharding(grid: Vec3, chunkBytes: number, choice: ShardingChoice): ShardingSpec {
  const bits = mortonBits(grid);
  const total = bits[0] + bits[1] + bits[2];
  const perShard = Math.max(0, Math.floor(Math.log2(Math.max(1, choice.targetBytes / chunkBytes))));
  const low = Math.min(perShard, total);
  const minishard = choice.minishardBits ?? Math.min(MAX_MINISHARD_BITS, Math.max(0, low - Math.log2(MAX_CHUNKS_PER_MINISHARD)));
  const preshift = choice.preshiftBits ?? Math.max(0, low - minishard);
  return {
    '@type': 'neuroglancer_uint64_sharded_v1',
    preshift_bits: preshift,
    hash: choice.hash ?? 'identity',
    minishard_bits: minishard,
    shard_bits: choice.shardBits ?? Math.max(0, total - preshift - minishard),
    minishard_index_encoding: choice.minishardIndexEncoding ?? 'gzip',
    data_encoding: choice.dataEncoding ?? 'gzip',
  };
}
