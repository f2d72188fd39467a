// One sharded scale of a layer: the chunk grid's geometry (compressed Morton ids, which cells a shard
// holds) over a ShardedKvStore keyed by those ids, which does the reading and writing.
import { InvalidInput } from '../common/errors.js';
import { GzipOptions } from '../storage/gzip.js';
import { Store } from '../storage/store.js';
import { Vec3 } from '../common/box.js';
import { cellOfMortonCode, compactShardShape, compressedMortonCode, locateChunk, mortonBits, ShardEntry, ShardingSpec } from './sharding.js';
import { ShardedKvStore } from './sharded-store.js';
/** Scattered shards (murmurhash, or identity with wrap-around) are found by hashing every cell. */
const MAX_SCATTERED_CELLS = 1 << 24;

export class ShardedScale {
  private cellShards?: Int32Array;
  readonly compactShape: Vec3 | null;
  private readonly values: ShardedKvStore;

  constructor(
    store: Store,
    readonly key: string,
    readonly spec: ShardingSpec,
    readonly grid: Vec3,
  ) {
    this.compactShape = compactShardShape(spec, grid);
    // A minishard lists at most every chunk of the grid.
    this.values = new ShardedKvStore(store, key, spec, grid[0] * grid[1] * grid[2]);
  }

  shardKey(shard: number): string {
    return this.values.shardKey(shard);
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

  /** One past the highest shard that holds a cell (0 for none): how many shard tasks a stage numbers. */
  shardSpan(): number {
    const shards = this.shards();
    return shards.length === 0 ? 0 : shards[shards.length - 1] + 1;
  }

  private scatteredShards(): Int32Array {
    if (this.cellShards) return this.cellShards;
    const [gx, gy, gz] = this.grid;
    if (gx * gy * gz > MAX_SCATTERED_CELLS) {
      throw new InvalidInput(
        `scale ${this.key}: ${gx * gy * gz} chunks with ${this.spec.hash} sharding${this.spec.hash === 'identity' ? ' that wraps around' : ''}: finding each shard's chunks would hash them all; use identity hashing with enough shard_bits (digest create-layer --sharded picks such parameters)`,
      );
    }
    const out = new Int32Array(gx * gy * gz);
    for (let z = 0, i = 0; z < gz; z++) for (let y = 0; y < gy; y++) for (let x = 0; x < gx; x++, i++) out[i] = this.shardOf([x, y, z]);
    return (this.cellShards = out);
  }

  /** The stored bytes of cell `g` (data_encoding undone), or null when it has none. */
  readChunk(g: Vec3, maxBytes: number): Promise<Uint8Array | null> {
    return this.values.get(this.idOf(g), maxBytes);
  }

  /** Writes one whole shard (every one of its cells present), atomically; `gzip` where the spec says gzip. */
  async writeShard(shard: number, entries: ShardEntry[], gzip?: GzipOptions): Promise<void> {
    const cells = this.cellsOf(shard).length;
    if (entries.length !== cells)
      throw new InvalidInput(`scale ${this.key}: shard ${shard} has ${cells} chunks, ${entries.length} given; a shard is written whole`);
    for (const e of entries) {
      const at = this.values.shardOf(e.id);
      if (at !== shard) throw new InvalidInput(`scale ${this.key}: chunk ${e.id} belongs to shard ${at}, not ${shard}`);
    }
    await this.values.writeShard(shard, entries, gzip);
  }
}
