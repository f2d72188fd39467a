// An independent reader of sharded precomputed volumes for tests, written from Neuroglancer's
// sharded.md and volume.md and sharing no code with digest's writer: its own compressed Morton code,
// murmurhash3_x86_128 from the murmurhash3js package, node:zlib for gzip, whole shard files parsed
// with DataView.
import murmur from 'murmurhash3js';
import { gunzipSync } from 'node:zlib';

export interface SpecJson {
  preshift_bits: number;
  hash: 'identity' | 'murmurhash3_x86_128';
  minishard_bits: number;
  shard_bits: number;
  minishard_index_encoding?: 'raw' | 'gzip';
  data_encoding?: 'raw' | 'gzip';
}

export function mortonCode(cell: number[], grid: number[]): bigint {
  let out = 0n,
    bit = 0n;
  for (let i = 0; i < 64; i++) {
    for (let d = 0; d < 3; d++) {
      if (2 ** i < grid[d]) {
        if (BigInt(cell[d]) & (1n << BigInt(i))) out |= 1n << bit;
        bit++;
      }
    }
  }
  return out;
}

export function hashId(id: bigint, spec: SpecJson): bigint {
  const shifted = id >> BigInt(spec.preshift_bits);
  if (spec.hash === 'identity') return shifted;
  let key = '';
  for (let i = 0n; i < 8n; i++) key += String.fromCharCode(Number((shifted >> (8n * i)) & 0xffn));
  const hex: string = murmur.x86.hash128(key);
  return BigInt(`0x${hex.slice(8, 16)}${hex.slice(0, 8)}`); // h2:h1, the low 8 bytes little endian
}

const decode = (bytes: Uint8Array, encoding?: string) => (encoding === 'gzip' ? new Uint8Array(gunzipSync(bytes)) : bytes);

/** The chunk `id` of a shard file's bytes, or null when the file does not list it. */
export function chunkFromShardFile(file: Uint8Array, id: bigint, spec: SpecJson): Uint8Array | null {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const hashed = hashId(id, spec);
  const minishard = Number(hashed & ((1n << BigInt(spec.minishard_bits)) - 1n));
  const indexEnd = 16 * 2 ** spec.minishard_bits;
  const start = indexEnd + Number(view.getBigUint64(16 * minishard, true));
  const end = indexEnd + Number(view.getBigUint64(16 * minishard + 8, true));
  if (start === end) return null;
  const index = decode(file.subarray(start, end), spec.minishard_index_encoding);
  const n = index.length / 24;
  const iv = new DataView(index.buffer, index.byteOffset, index.byteLength);
  let chunk = 0n,
    offset = BigInt(indexEnd);
  for (let i = 0; i < n; i++) {
    chunk += iv.getBigUint64(8 * i, true);
    offset += iv.getBigUint64(8 * (n + i), true);
    const size = iv.getBigUint64(8 * (2 * n + i), true);
    if (chunk === id) return decode(file.subarray(Number(offset), Number(offset + size)), spec.data_encoding);
    offset += size;
  }
  return null;
}

/** The file name of the shard that holds `id`. */
export function shardFileOf(id: bigint, spec: SpecJson): string {
  const shard = (hashId(id, spec) >> BigInt(spec.minishard_bits)) & ((1n << BigInt(spec.shard_bits)) - 1n);
  return `${shard.toString(16).padStart(Math.ceil(spec.shard_bits / 4), '0')}.shard`;
}

/** Every id a shard file's minishard indices list. */
export function idsInShardFile(file: Uint8Array, spec: SpecJson): bigint[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const indexEnd = 16 * 2 ** spec.minishard_bits;
  const ids: bigint[] = [];
  for (let m = 0; m < 2 ** spec.minishard_bits; m++) {
    const start = indexEnd + Number(view.getBigUint64(16 * m, true));
    const end = indexEnd + Number(view.getBigUint64(16 * m + 8, true));
    if (start === end) continue;
    const index = decode(file.subarray(start, end), spec.minishard_index_encoding);
    const iv = new DataView(index.buffer, index.byteOffset, index.byteLength);
    let id = 0n;
    for (let i = 0; i < index.length / 24; i++) ids.push((id += iv.getBigUint64(8 * i, true)));
  }
  return ids;
}
