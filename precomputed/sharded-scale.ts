// One sharded scale of a layer, as a chunk store over the layer's byte store (the way tensorstore
// layers neuroglancer_uint64_sharded over a kvstore): a chunk's bytes come from at most three ranged
// reads (the shard index, the minishard index, the chunk), and the two indices are kept for the life
// of this object (one task). Writes are whole shards, each one atomic put.
import { CorruptData, InvalidInput, withContext } from '../common/errors.js';
import { gunzip, gzipBound, GzipOptions } from '../storage/gzip.js';
import { Store } from '../storage/store.js';
import { Vec3 } from '../common/box.js';
import {
  ByteRange, cellOfMortonCode, compactShardShape, compressedMortonCode, decodeMinishardIndex, encodeShard,
  locateChunk, mortonBits, ShardEntry, shardFileName, ShardingSpec,
} from './sharding.js';

/** The shard index is read whole when it is at most this large (one read serves every minishard). */
const WHOLE_INDEX_BYTES = 65_536;
/** Scattered shards (murmurhash, or identity with wrap-around) are found by hashing every cell. */
const MAX_SCATTERED_CELLS = 1 << 24;

export class ShardedScale {
  private readonly shardIndexes = new Map<number, Promise<BigUint64Array | null>>();
  private readonly minishardIndexes = new Map<string, Promise<Map<bigint, ByteRange> | null>>();
  private cellShards?: Int32Array;
  readonly compactShape: Vec3 | null;

  constructor(private readonly store: Store, readonly key: string, readonly spec: ShardingSpec, readonly grid: Vec3) {
    this.compactShape = compactShardShape(spec, grid);
  }

  shardKey(shard: number): string {
    return `${this.key}/${shardFileName(shard, this.spec)}`;
  }

  idOf(g: Vec3): bigint {
    return compressedMortonCode(g, this.grid);
  }

  shardOf(g: Vec3): number {
    return locateChunk(this.idOf(g), this.spec).shard;
  }

  /** The grid cells of `shard` (inside the grid), Morton order for compact shards. */
  cellsOf(shard: number): Vec3[] {
    if (this.compactShape) {
      const low = BigInt(this.spec.preshift_bits + this.spec.minishard_bits);
      const origin = cellOfMortonCode(BigInt(shard) << low, this.grid);
      const cells: Vec3[] = [];
      const s = this.compactShape;
      for (let z = origin[2]; z < Math.min(origin[2] + s[2], this.grid[2]); z++)
        for (let y = origin[1]; y < Math.min(origin[1] + s[1], this.grid[1]); y++)
          for (let x = origin[0]; x < Math.min(origin[0] + s[0], this.grid[0]); x++) cells.push([x, y, z]);
      return cells;
    }
    const shards = this.scatteredShards();
    const cells: Vec3[] = [];
    const [gx, gy] = this.grid;
    for (let i = 0; i < shards.length; i++) if (shards[i] === shard) cells.push([i % gx, Math.floor(i / gx) % gy, Math.floor(i / (gx * gy))]);
    return cells;
  }

  /** Every shard that holds at least one cell of the grid, ascending. */
  shards(): number[] {
    if (this.compactShape) {
      const low = this.spec.preshift_bits + this.spec.minishard_bits;
      const bits = mortonBits(this.grid);
      const total = bits[0] + bits[1] + bits[2];
      const found = new Set<number>();
      // Each block's origin cell is enough: a shard exists iff its origin lies inside the grid.
      const count = 2 ** Math.max(0, total - low);
      for (let s = 0; s < count; s++) {
        const o = cellOfMortonCode(BigInt(s) << BigInt(low), this.grid);
        if (o.every((v, d) => v < this.grid[d])) found.add(s);
      }
      return [...found].sort((a, b) => a - b);
    }
    return [...new Set(this.scatteredShards())].sort((a, b) => a - b);
  }

  private scatteredShards(): Int32Array {
    if (this.cellShards) return this.cellShards;
    const [gx, gy, gz] = this.grid;
    if (gx * gy * gz > MAX_SCATTERED_CELLS) {
      throw new InvalidInput(`scale ${this.key}: ${gx * gy * gz} chunks with ${this.spec.hash} sharding${this.spec.hash === 'identity' ? ' that wraps around' : ''}: finding each shard's chunks would hash them all; use identity hashing with enough shard_bits (digest create-layer --sharded picks such parameters)`);
    }
    const out = new Int32Array(gx * gy * gz);
    for (let z = 0, i = 0; z < gz; z++) for (let y = 0; y < gy; y++) for (let x = 0; x < gx; x++, i++) out[i] = this.shardOf([x, y, z]);
    return (this.cellShards = out);
  }

  /** The stored bytes of cell `g` (data_encoding undone), or null when it has none. */
  async readChunk(g: Vec3, maxBytes: number): Promise<Uint8Array | null> {
    const id = this.idOf(g);
    const { shard, minishard } = locateChunk(id, this.spec);
    const index = await this.minishardIndex(shard, minishard);
    const range = index?.get(id);
    if (!range) return null;
    const where = `${this.store.url}/${this.shardKey(shard)} (chunk ${id})`;
    const encodedLimit = this.spec.data_encoding === 'gzip' ? gzipBound(maxBytes) : maxBytes;
    if (range.end - range.start > encodedLimit) throw new CorruptData(`${where}: ${range.end - range.start} bytes, more than the ${encodedLimit} expected`);
    const bytes = await this.store.getRange(this.shardKey(shard), range.start, range.end - range.start);
    if (!bytes || bytes.length !== range.end - range.start) throw new CorruptData(`${where}: the shard file ends before the chunk's ${range.end - range.start} bytes`);
    return this.spec.data_encoding === 'gzip' ? gunzip(bytes, where, maxBytes) : bytes;
  }

  private shardIndex(shard: number): Promise<BigUint64Array | null> {
    let p = this.shardIndexes.get(shard);
    if (!p) {
      const bytes = 16 * 2 ** this.spec.minishard_bits;
      p = bytes <= WHOLE_INDEX_BYTES ? this.readIndexRange(shard, 0, bytes) : Promise.resolve(new BigUint64Array(0));
      this.shardIndexes.set(shard, p);
    }
    return p;
  }

  private async readIndexRange(shard: number, offset: number, length: number): Promise<BigUint64Array | null> {
    const bytes = await this.store.getRange(this.shardKey(shard), offset, length);
    if (!bytes) return null;
    if (bytes.length !== length) throw new CorruptData(`${this.store.url}/${this.shardKey(shard)}: ${bytes.length} bytes where the shard index needs ${length}`);
    return new BigUint64Array(bytes.slice().buffer);
  }

  private minishardIndex(shard: number, minishard: number): Promise<Map<bigint, ByteRange> | null> {
    const cacheKey = `${shard}/${minishard}`;
    let p = this.minishardIndexes.get(cacheKey);
    if (!p) {
      p = this.readMinishardIndex(shard, minishard);
      this.minishardIndexes.set(cacheKey, p);
    }
    return p;
  }

  private async readMinishardIndex(shard: number, minishard: number): Promise<Map<bigint, ByteRange> | null> {
    const whole = await this.shardIndex(shard);
    if (!whole) return null;
    const entry = whole.length > 0 ? whole.subarray(2 * minishard, 2 * minishard + 2) : await this.readIndexRange(shard, 16 * minishard, 16);
    if (!entry) return null;
    const where = `${this.store.url}/${this.shardKey(shard)} (minishard ${minishard})`;
    // uint64 offsets checked before they become doubles (which would round distinct values together).
    if (entry[0] > BigInt(Number.MAX_SAFE_INTEGER) || entry[1] > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new CorruptData(`${where}: index range [${entry[0]}, ${entry[1]}) points past 2^53`);
    }
    const base = 16 * 2 ** this.spec.minishard_bits;
    const start = base + Number(entry[0]), end = base + Number(entry[1]);
    if (end < start) throw new CorruptData(`${where}: index range [${start}, ${end}) is reversed`);
    if (end === start) return new Map();
    // A minishard lists at most every chunk of the grid: 24 bytes each.
    const maxIndex = 24 * this.grid[0] * this.grid[1] * this.grid[2];
    if (end - start > gzipBound(maxIndex)) throw new CorruptData(`${where}: index of ${end - start} bytes is larger than any index of this grid`);
    const bytes = await this.store.getRange(this.shardKey(shard), start, end - start);
    if (!bytes || bytes.length !== end - start) throw new CorruptData(`${where}: the shard file ends inside the minishard index`);
    return decodeMinishardIndex(bytes, this.spec, where, maxIndex);
  }

  /** Writes one whole shard (every one of its cells present), atomically; `gzip` where the spec says gzip. */
  async writeShard(shard: number, entries: ShardEntry[], gzip?: GzipOptions): Promise<void> {
    const cells = this.cellsOf(shard).length;
    if (entries.length !== cells) throw new InvalidInput(`scale ${this.key}: shard ${shard} has ${cells} chunks, ${entries.length} given; a shard is written whole`);
    for (const e of entries) {
      const at = locateChunk(e.id, this.spec).shard;
      if (at !== shard) throw new InvalidInput(`scale ${this.key}: chunk ${e.id} belongs to shard ${at}, not ${shard}`);
    }
    try {
      await this.store.put(this.shardKey(shard), encodeShard(entries, this.spec, gzip), { contentType: 'application/octet-stream' });
    } catch (e) {
      throw withContext(e, `write of shard ${this.store.url}/${this.shardKey(shard)}`);
    }
  }
}
