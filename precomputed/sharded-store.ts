// neuroglancer_uint64_sharded_v1 as a key-value store keyed by uint64 id over a byte store (as
// tensorstore's GetShardedKeyValueStore and neuroglancer's ShardedKvStore): a value comes from at most
// three ranged reads (the shard index, the minishard index, the value), the two indices kept for the
// life of this object (one task). Writes are whole shards, each one atomic put (from a spill file in
// parts where the shard is too large to hold). Volume chunks
// (compressed Morton ids) use it today; multi-resolution meshes and skeletons (segment ids) next.
import { CorruptData, withContext } from '../common/errors.js';
import { gunzip, gzipBound, GzipOptions } from '../storage/gzip.js';
import { piecesBody } from '../storage/spill.js';
import { readWhole, Store } from '../storage/store.js';
import { ByteRange, decodeMinishardIndex, locateChunk, ShardEntry, shardFileName, ShardingSpec, shardPieces } from './sharding.js';

/** The shard index is read whole when it is at most this large (one read serves every minishard). */
const WHOLE_INDEX_BYTES = 65_536;

export class ShardedKvStore {
  private readonly shardIndexes = new Map<number, Promise<BigUint64Array | null>>();
  private readonly minishardIndexes = new Map<string, Promise<Map<bigint, ByteRange> | null>>();

  /**
   * `dir`: the shard files' directory in `store`; `maxIds`: the most ids one minishard can list (a
   * bound for its index, checked before it is read).
   */
  constructor(
    private readonly store: Store,
    readonly dir: string,
    readonly spec: ShardingSpec,
    private readonly maxIds: number,
  ) {}

  shardKey(shard: number): string {
    return `${this.dir}/${shardFileName(shard, this.spec)}`;
  }

  shardOf(id: bigint): number {
    return locateChunk(id, this.spec).shard;
  }

  /** The value of `id` (data_encoding undone), at most `maxBytes`, or null when it has none. */
  async get(id: bigint, maxBytes: number): Promise<Uint8Array | null> {
    const { shard, minishard } = locateChunk(id, this.spec);
    const index = await this.minishardIndex(shard, minishard);
    const range = index?.get(id);
    if (!range) return null;
    const where = `${this.store.url}/${this.shardKey(shard)} (chunk ${id})`;
    const encodedLimit = this.spec.data_encoding === 'gzip' ? gzipBound(maxBytes) : maxBytes;
    if (range.end - range.start > encodedLimit) throw new CorruptData(`${where}: ${range.end - range.start} bytes, more than the ${encodedLimit} expected`);
    const bytes = await this.store.getRange(this.shardKey(shard), range.start, range.end - range.start);
    if (!bytes || bytes.length !== range.end - range.start)
      throw new CorruptData(`${where}: the shard file ends before the chunk's ${range.end - range.start} bytes`);
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
    if (bytes.length !== length)
      throw new CorruptData(`${this.store.url}/${this.shardKey(shard)}: ${bytes.length} bytes where the shard index needs ${length}`);
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
    const start = base + Number(entry[0]),
      end = base + Number(entry[1]);
    if (end < start) throw new CorruptData(`${where}: index range [${start}, ${end}) is reversed`);
    if (end === start) return new Map();
    // A minishard lists at most every chunk of the grid: 24 bytes each.
    const maxIndex = 24 * this.maxIds;
    if (end - start > gzipBound(maxIndex)) throw new CorruptData(`${where}: index of ${end - start} bytes is larger than any index of this store`);
    const bytes = await this.store.getRange(this.shardKey(shard), start, end - start);
    if (!bytes || bytes.length !== end - start) throw new CorruptData(`${where}: the shard file ends inside the minishard index`);
    return decodeMinishardIndex(bytes, this.spec, where, maxIndex);
  }

  /** Every id stored in `shard`, ascending (its minishard indices read; none when it has no file). */
  async ids(shard: number): Promise<bigint[]> {
    const out: bigint[] = [];
    for (let m = 0; m < 2 ** this.spec.minishard_bits; m++) {
      const index = await this.minishardIndex(shard, m);
      if (!index) return [];
      for (const id of index.keys()) out.push(id);
    }
    return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /**
   * Writes one shard, every entry of it, atomically; `gzip` where the spec says gzip. A shard with
   * spilled entries goes up a part at a time from its spill (Store.putPieces), never held whole.
   */
  async writeShard(shard: number, entries: ShardEntry[], gzip?: GzipOptions): Promise<void> {
    try {
      const pieces = shardPieces(entries, this.spec, gzip);
      const body = piecesBody(pieces);
      const options = { contentType: 'application/octet-stream' };
      if (pieces.every((p) => p instanceof Uint8Array)) await this.store.put(this.shardKey(shard), await readWhole(body), options);
      else await this.store.putPieces(this.shardKey(shard), body, options);
    } catch (e) {
      throw withContext(e, `write of shard ${this.store.url}/${this.shardKey(shard)}`);
    }
  }
}
