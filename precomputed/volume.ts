// A precomputed layer: its info, and reads of any box / writes of grid-aligned chunks through a store and codec.
import { ChunkFormat, contentType, decodeChunk, encodeChunk, gzipTransport, maxEncodedBytes } from '../codecs/chunk.js';
import { InvalidInput, withContext } from '../common/errors.js';
import { openStore } from '../storage/open.js';
import { Store } from '../storage/store.js';
import { Box, chunkKey, contains, copyRegion, formatBox, intersect, shapeOf, voxelCount } from './box.js';
import { allocate, dataTypeOf, TypedArray } from './dtype.js';
import { assertChunkAligned, chunksIntersecting, Info, parseInfo, Scale, scaleBounds } from './info.js';

export class Volume {
  constructor(readonly url: string, readonly store: Store, readonly info: Info) {}

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
    return { scale: this.scale(mip), dataType: this.info.data_type, channels: this.info.num_channels };
  }

  bounds(mip: number): Box {
    return scaleBounds(this.scale(mip));
  }

  chunkPath(mip: number, chunk: Box): string {
    return `${this.scale(mip).key}/${chunkKey(chunk)}`;
  }

  /** The stored objects of the chunks that `region` touches, with their size limits (for prefetching). */
  chunkObjects(mip: number, region: Box): { storeUrl: string; key: string; maxBytes: number }[] {
    const format = this.format(mip);
    return chunksIntersecting(this.scale(mip), intersect(region, this.bounds(mip)))
      .map((c) => ({ storeUrl: this.url, key: this.chunkPath(mip, c), maxBytes: maxEncodedBytes(format, voxelCount(c)) }));
  }

  async readChunk(mip: number, chunk: Box): Promise<TypedArray | null> {
    const key = this.chunkPath(mip, chunk);
    const format = this.format(mip);
    try {
      const bytes = await this.store.get(key, { maxBytes: maxEncodedBytes(format, voxelCount(chunk)) });
      return bytes && decodeChunk(bytes, shapeOf(chunk), format);
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
    await Promise.all(chunksIntersecting(this.scale(mip), region).map(async (chunk) => {
      const data = await this.readChunk(mip, chunk);
      if (!data) {
        if (opts.missing === 'zero') return;
        throw new InvalidInput(`chunk ${this.url}/${this.chunkPath(mip, chunk)} is missing`);
      }
      copyRegion(data, chunk, out, region, intersect(chunk, region), channels);
    }));
    return out;
  }

  /** Writes one grid chunk; refuses anything not exactly aligned to the chunk grid. */
  async writeChunk(mip: number, chunk: Box, data: TypedArray): Promise<void> {
    await this.putEncoded(mip, chunk, this.encode(mip, chunk, data));
  }

  /**
   * Writes the given chunks out of `data`, which covers `region` (each chunk must lie inside it).
   * Chunks are cut into one reused scratch buffer and encoded one after another; only the uploads overlap.
   * (Fresh memory is slow to touch on VMs: reusing the buffer made ingest markedly faster here.)
   */
  async writeChunks(mip: number, chunks: Box[], data: TypedArray, region: Box): Promise<void> {
    const channels = this.info.num_channels;
    const largest = Math.max(0, ...chunks.map(voxelCount)) * channels;
    const scratch = allocate(this.info.data_type, largest);
    const encoded = chunks.map((chunk) => {
      if (!contains(region, chunk)) throw new InvalidInput(`chunk ${chunkKey(chunk)} is not inside the data's box ${formatBox(region)}`);
      const part = scratch.subarray(0, voxelCount(chunk) * channels) as TypedArray;
      copyRegion(data, region, part, chunk, chunk, channels);
      return this.encode(mip, chunk, part);
    });
    await Promise.all(chunks.map((chunk, i) => this.putEncoded(mip, chunk, encoded[i])));
  }

  /** Checks and encodes one chunk; the bytes never alias `data`. */
  private encode(mip: number, chunk: Box, data: TypedArray): Uint8Array {
    assertChunkAligned(this.scale(mip), chunk, `write to ${this.url} at mip ${mip}: chunk`);
    if (dataTypeOf(data) !== this.info.data_type) throw new InvalidInput(`write of ${chunkKey(chunk)}: data is ${dataTypeOf(data)}, layer data_type is ${this.info.data_type}`);
    if (data.length !== voxelCount(chunk) * this.info.num_channels) throw new InvalidInput(`write of ${chunkKey(chunk)}: ${data.length} values for ${voxelCount(chunk)} voxels x ${this.info.num_channels} channel(s)`);
    const bytes = encodeChunk(data, shapeOf(chunk), this.format(mip));
    return bytes.buffer === data.buffer ? bytes.slice() : bytes;
  }

  private async putEncoded(mip: number, chunk: Box, bytes: Uint8Array): Promise<void> {
    const f = this.format(mip);
    await this.store.put(this.chunkPath(mip, chunk), bytes, { gzip: gzipTransport(f), contentType: contentType(f) });
  }
}
