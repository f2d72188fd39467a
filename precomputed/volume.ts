// A precomputed layer: its info, and reads of any box / writes of grid-aligned chunks through a store and codec.
import { ChunkFormat, codecOf, contentType, decodeChunk, encodeChunk, gzipOptions, maxEncodedBytes } from '../codecs/registry.js';
import { InvalidInput, withContext } from '../common/errors.js';
import { openStore } from '../storage/open.js';
import { Store } from '../storage/store.js';
import { gzip, GzipOptions } from '../storage/gzip.js';
import { Box, chunkKey, contains, copyRegion, formatBox, intersect, shapeOf, Vec3, voxelCount } from '../common/box.js';
import { allocate, dataTypeOf, TypedArray } from '../common/dtype.js';
import { assertChunkAligned, chunkFormat, chunkSize, chunksIntersecting, chunksWithin, gridShape, Info, parseInfo, Scale, scaleBounds } from './info.js';
import { ChunkObjects, ChunkShards, ChunkStore } from './chunk-store.js';
import { ShardedScale } from './sharded-scale.js';

/** A scale's chunks given a slab at a time (ChunkWriter, over voxels): finish when all are given, release in any case. */
export interface SlabWriter {
  add(chunks: Box[], data: TypedArray, region: Box): Promise<void>;
  finish(): Promise<void>;
  release(): Promise<void>;
}

export class Volume {
  /** Each scale's chunk store, made on first use: shard index caches live as long as this object. */
  private readonly stores = new Map<number, { chunks: ChunkStore; sharded?: ShardedScale }>();

  constructor(
    readonly url: string,
    readonly store: Store,
    readonly info: Info,
  ) {}

  static async open(url: string): Promise<Volume> {
    const store = openStore(url);
    const bytes = await store.get('info', { maxBytes: 16 << 20 });
    if (!bytes) throw new InvalidInput(`layer ${url} has no info file`);
    let info: Info;
    try {
      info = parseInfo(new TextDecoder().decode(bytes));
    } catch (e) {
      throw withContext(e, `layer ${url}`);
    }
    return new Volume(url, store, info);
  }

  /** Writes `info` (validated) and returns the layer. */
  static async create(url: string, info: Info): Promise<Volume> {
    const checked = parseInfo(info);
    const volume = new Volume(url, openStore(url), checked);
    await volume.saveInfo();
    return volume;
  }

  async saveInfo(): Promise<void> {
    await this.store.put('info', new TextEncoder().encode(JSON.stringify(this.info, null, 2)), { contentType: 'application/json' });
  }

  scale(mip: number): Scale {
    const scale = this.info.scales[mip];
    if (!scale) throw new InvalidInput(`layer ${this.url} has no mip ${mip} (scales 0..${this.info.scales.length - 1})`);
    return scale;
  }

  format(mip: number): ChunkFormat {
    return chunkFormat(this.info, this.scale(mip));
  }

  bounds(mip: number): Box {
    return scaleBounds(this.scale(mip));
  }

  /** The sharded scale `mip` (its shard geometry, for Shard tasks), or undefined when it is not sharded. */
  shardedScale(mip: number): ShardedScale | undefined {
    return this.storeOf(mip).sharded;
  }

  /** Where scale `mip`'s chunks are kept (the one place that knows whether it is sharded). */
  private chunks(mip: number): ChunkStore {
    return this.storeOf(mip).chunks;
  }

  private storeOf(mip: number): { chunks: ChunkStore; sharded?: ShardedScale } {
    let s = this.stores.get(mip);
    if (!s) {
      const scale = this.scale(mip);
      if (scale.sharding) {
        const sharded = new ShardedScale(this.store, scale.key, scale.sharding, gridShape(scale));
        s = { chunks: new ChunkShards(sharded, (c) => this.gridCell(mip, c)), sharded };
      } else s = { chunks: new ChunkObjects(this.store, (c) => this.chunkPath(mip, c)) };
      this.stores.set(mip, s);
    }
    return s;
  }

  /** Grid coordinates of a grid chunk of scale `mip`. */
  gridCell(mip: number, chunk: Box): Vec3 {
    const scale = this.scale(mip);
    return chunk.start.map((v, i) => (v - scale.voxel_offset[i]) / chunkSize(scale)[i]) as Vec3;
  }

  chunkPath(mip: number, chunk: Box): string {
    return `${this.scale(mip).key}/${chunkKey(chunk)}`;
  }

  /** The stored objects of the chunks that `region` touches, with their size limits (for prefetching). */
  chunkObjects(mip: number, region: Box): { storeUrl: string; key: string; maxBytes: number }[] {
    const format = this.format(mip);
    return this.chunks(mip)
      .objects(chunksIntersecting(this.scale(mip), intersect(region, this.bounds(mip))))
      .map(({ key, chunk }) => ({ storeUrl: this.url, key, maxBytes: maxEncodedBytes(format, shapeOf(chunk)) }));
  }

  async readChunk(mip: number, chunk: Box): Promise<TypedArray | null> {
    return this.readAndDecode(mip, chunk, (data) => data);
  }

  /** `use` gets the decoded chunk, which may live in a reused buffer: valid only during the call. */
  private async readAndDecode<T>(mip: number, chunk: Box, use: (data: TypedArray) => T, transient = false): Promise<T | null> {
    const key = this.chunkPath(mip, chunk);
    const format = this.format(mip);
    const maxBytes = maxEncodedBytes(format, shapeOf(chunk));
    try {
      const bytes = await this.chunks(mip).read(chunk, maxBytes);
      return bytes && use(decodeChunk(bytes, shapeOf(chunk), format, transient));
    } catch (e) {
      throw withContext(e, `${this.url}/${key}`);
    }
  }

  /**
   * The voxels of `region` (which must lie inside the scale's bounds), assembled from every chunk it touches.
   * A missing chunk is an error unless `missing: 'zero'` (Neuroglancer shows unwritten chunks as zeros).
   */
  async read(mip: number, region: Box, opts: { missing?: 'error' | 'zero' } = {}): Promise<TypedArray> {
    const bounds = this.bounds(mip);
    if (!contains(bounds, region)) throw new InvalidInput(`read of ${formatBox(region)} at mip ${mip} is outside the layer bounds ${formatBox(bounds)}`);
    const channels = this.info.num_channels;
    const out = allocate(this.info.data_type, voxelCount(region) * channels);
    await Promise.all(
      chunksIntersecting(this.scale(mip), region).map(async (chunk) => {
        const copy = (data: TypedArray) => copyRegion(data, chunk, out, region, intersect(chunk, region), channels);
        const found = await this.readAndDecode(mip, chunk, copy, true);
        if (found === null) {
          if (opts.missing === 'zero') return;
          throw new InvalidInput(`chunk ${this.url}/${this.chunkPath(mip, chunk)} is missing`);
        }
      }),
    );
    return out;
  }

  /** Writes one grid chunk; refuses anything not exactly aligned to the chunk grid. */
  async writeChunk(mip: number, chunk: Box, data: TypedArray): Promise<void> {
    await this.writeChunks(mip, [chunk], data, chunk);
  }

  /**
   * Writes the given chunks out of `data`, which covers `region` (each chunk must lie inside it).
   * Chunks are cut into one reused scratch buffer (fresh memory is slow to touch on VMs), encoded and
   * gzipped one after another while it is in cache; each upload starts as soon as its chunk is ready,
   * and the thread yields to them every few chunks, so that writing overlaps encoding.
   */
  async writeChunks(mip: number, chunks: Box[], data: TypedArray, region: Box): Promise<void> {
    const f = this.format(mip);
    await this.chunks(mip).write(chunks, (zip) => this.encoded(mip, chunks, data, region, zip), gzipOptions(f), contentType(f));
  }

  /**
   * Writes every write unit of scale `mip` wholly inside `region` (which `data` covers): its chunks,
   * or in a sharded scale its whole shards; units that `region` only partly covers are left to
   * whoever owns them. Returns the chunks written.
   */
  async writeWithin(mip: number, region: Box, data: TypedArray): Promise<number> {
    const chunks = this.writableWithin(mip, region);
    await this.writeChunks(mip, chunks, data, region);
    return chunks.length;
  }

  /** The write units of scale `mip` wholly inside `region`, as chunks: what a task holding that region owns. */
  writableWithin(mip: number, region: Box): Box[] {
    return this.chunks(mip).writable(chunksWithin(this.scale(mip), region));
  }

  /**
   * A writer of scale `mip`'s chunks for a task that streams its region a slab at a time: chunk
   * objects are put as each slab comes; a shard's chunks are kept, compressed as stored, until it has
   * them all (ChunkWriter). `finish` once every slab is added.
   */
  slabWriter(mip: number): SlabWriter {
    const f = this.format(mip);
    const writer = this.chunks(mip).writer(gzipOptions(f), contentType(f));
    return {
      add: (chunks, data, region) => writer.add(chunks, (zip) => this.encoded(mip, chunks, data, region, zip)),
      finish: () => writer.finish(),
      release: () => writer.release(),
    };
  }

  /**
   * `data` (covering `region`) as a reader of scale `mip` sees it once `chunks` are stored: `data`
   * itself for lossless encodings; for a lossy one (JPEG) a copy whose chunks went through the
   * encoder and back.
   * The next mip is made from this, so that every path (Ingest, a multi-mip Downsample, mip by mip)
   * averages what was stored, as a reader of mip k - 1 would.
   */
  storedValues(mip: number, chunks: Box[], data: TypedArray, region: Box): TypedArray {
    const f = this.format(mip);
    if (!codecOf(f.encoding).lossy) return data;
    const out = data.slice() as TypedArray;
    for (const [i, bytes] of this.encoded(mip, chunks, data, region)) {
      const chunk = chunks[i];
      copyRegion(decodeChunk(bytes, shapeOf(chunk), f), chunk, out, region, chunk, this.info.num_channels);
    }
    return out;
  }

  /**
   * Cuts chunks out of `data` (covering `region`) one at a time into one reused scratch buffer and
   * encodes them (then gzips them with `gzipWith` if given), yielding [index in `chunks`, bytes]; the
   * bytes never alias the scratch.
   */
  private *encoded(mip: number, chunks: Box[], data: TypedArray, region: Box, gzipWith?: GzipOptions): Generator<[number, Uint8Array]> {
    const channels = this.info.num_channels;
    const scratch = allocate(this.info.data_type, Math.max(0, ...chunks.map(voxelCount)) * channels);
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i];
      if (!contains(region, chunk)) throw new InvalidInput(`chunk ${chunkKey(chunk)} is not inside the data's box ${formatBox(region)}`);
      const part = scratch.subarray(0, voxelCount(chunk) * channels) as TypedArray;
      copyRegion(data, region, part, chunk, chunk, channels);
      const bytes = this.encode(mip, chunk, part);
      yield [i, gzipWith ? gzip(bytes, gzipWith) : bytes.buffer === scratch.buffer ? bytes.slice() : bytes];
    }
  }

  /** Checks and encodes one chunk; the bytes may be a view of `data` (raw encoding). */
  private encode(mip: number, chunk: Box, data: TypedArray): Uint8Array {
    assertChunkAligned(this.scale(mip), chunk, `write to ${this.url} at mip ${mip}: chunk`);
    if (dataTypeOf(data) !== this.info.data_type)
      throw new InvalidInput(`write of ${chunkKey(chunk)}: data is ${dataTypeOf(data)}, layer data_type is ${this.info.data_type}`);
    if (data.length !== voxelCount(chunk) * this.info.num_channels)
      throw new InvalidInput(`write of ${chunkKey(chunk)}: ${data.length} values for ${voxelCount(chunk)} voxels x ${this.info.num_channels} channel(s)`);
    return encodeChunk(data, shapeOf(chunk), this.format(mip));
  }
}
