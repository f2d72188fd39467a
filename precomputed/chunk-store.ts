// Where a scale's chunks are kept: one object per chunk under the scale's key, or shards (a
// ShardedKvStore keyed by the chunks' compressed Morton ids). The volume reads and writes chunks by
// box through this and never asks which.
import { Box } from '../common/box.js';
import { InvalidInput } from '../common/errors.js';
import { DEFAULT_GZIP, GzipOptions } from '../storage/gzip.js';
import { PARTS_AT_ONCE, storageOptions } from '../storage/options.js';
import { SpillFile } from '../storage/spill.js';
import { Store } from '../storage/store.js';
import { ShardedScale } from './sharded-scale.js';
import { ShardEntry } from './sharding.js';

/** [index in the chunks given, encoded bytes], gzipped with `gzip` when given. */
export type EncodedChunks = (gzip: GzipOptions | undefined) => Iterable<[number, Uint8Array]>;

export interface ChunkStore {
  /** The chunk's stored bytes (gzip undone), at most `maxBytes` of them, or null when it has none. */
  read(chunk: Box, maxBytes: number): Promise<Uint8Array | null>;
  /** The objects a prefetcher can read whole for these chunks ([] where chunks are read by range). */
  objects(chunks: Box[]): { key: string; chunk: Box }[];
  /** Of `chunks` (a region's), those a task holding only that region may write: all, or whole shards. */
  writable(chunks: Box[]): Box[];
  /** Writes `chunks` from their encodings; `gzip`: the layer's choice for its chunks. */
  write(chunks: Box[], encoded: EncodedChunks, gzip: GzipOptions | false, contentType: string): Promise<void>;
  /** A writer that takes a region's chunks a piece (a z slab) at a time: see ChunkWriter. */
  writer(gzip: GzipOptions | false, contentType: string): ChunkWriter;
}

/**
 * Chunks given piece by piece (a task that streams its region in slabs). Chunk objects are put as
 * they come; a shard's chunks are kept as stored (compressed by its data_encoding) until the shard
 * has all of them, then it is written whole: a task holds its slab and the shards it is filling, up
 * to spillAboveBytes of them (the rest waits in a local spill file, storage/spill.ts).
 */
export interface ChunkWriter {
  add(chunks: Box[], encoded: EncodedChunks): Promise<void>;
  /** Refuses a shard left incomplete (its writer was given only part of it): nothing of it is written. */
  finish(): Promise<void>;
  /** Frees what the writer holds (its spill file) when its task fails before finish; a no-op after finish. */
  release(): Promise<void>;
}

/**
 * Bytes a shard writer holds for shards of `bytes` as stored: all of them, or spillAboveBytes and
 * the parts of one upload from the spill (for the planners' memory bounds).
 */
export function shardWriterBytes(bytes: number, options = storageOptions()): number {
  return bytes <= options.spillAboveBytes ? bytes : options.spillAboveBytes + PARTS_AT_ONCE * options.partBytes;
}

/** One object per chunk (named by the volume: `<scale key>/<box>`); uploads start as each chunk is encoded. */
export class ChunkObjects implements ChunkStore {
  constructor(
    private readonly store: Store,
    private readonly key: (chunk: Box) => string,
  ) {}

  read(chunk: Box, maxBytes: number): Promise<Uint8Array | null> {
    return this.store.get(this.key(chunk), { maxBytes });
  }

  objects(chunks: Box[]): { key: string; chunk: Box }[] {
    return chunks.map((chunk) => ({ key: this.key(chunk), chunk }));
  }

  writable(chunks: Box[]): Box[] {
    return chunks;
  }

  async write(chunks: Box[], encoded: EncodedChunks, gzip: GzipOptions | false, contentType: string): Promise<void> {
    await this.writer(gzip, contentType).add(chunks, encoded);
  }

  writer(gzip: GzipOptions | false, contentType: string): ChunkWriter {
    const options = { gzip: gzip ? ('compressed' as const) : false, contentType };
    return {
      add: async (chunks, encoded) => {
        const puts: Promise<void>[] = [];
        for (const [i, bytes] of encoded(gzip || undefined)) {
          const put = this.store.put(this.key(chunks[i]), bytes, options);
          put.catch(() => {}); // (reported by Promise.all below; a rejection before then is not unhandled)
          puts.push(put);
          // Yield to the uploads every few chunks, so that writing overlaps encoding.
          if (puts.length % 4 === 0) await new Promise(setImmediate);
        }
        await Promise.all(puts);
      },
      finish: async () => {},
      release: async () => {},
    };
  }
}

/** Shards of a sharded scale: chunks read by range, written a whole shard at a time. */
export class ChunkShards implements ChunkStore {
  constructor(
    private readonly sharded: ShardedScale,
    private readonly gridCell: (chunk: Box) => [number, number, number],
  ) {}

  read(chunk: Box, maxBytes: number): Promise<Uint8Array | null> {
    return this.sharded.readChunk(this.gridCell(chunk), maxBytes);
  }

  objects(): { key: string; chunk: Box }[] {
    return []; // read by range from shared shard files, not as whole objects
  }

  writable(chunks: Box[]): Box[] {
    const byShard = this.byShard(chunks.map((c, i) => [c, i] as const));
    return [...byShard].filter(([shard, cs]) => cs.length === this.sharded.cellsOf(shard).length).flatMap(([, cs]) => cs.map(([c]) => c));
  }

  /** The shards' data_encoding gzips each chunk inside them; the layer's gzip choice does not apply. */
  async write(chunks: Box[], encoded: EncodedChunks, gzip: GzipOptions | false): Promise<void> {
    const writer = this.writer(gzip);
    try {
      await writer.add(chunks, encoded);
      await writer.finish();
    } finally {
      await writer.release();
    }
  }

  writer(gzip: GzipOptions | false): ChunkWriter {
    const options = gzip || DEFAULT_GZIP;
    const dataGzip = this.sharded.spec.data_encoding === 'gzip' ? options : undefined;
    // Each shard's entries so far, how many it holds, and its bytes held in memory.
    const filling = new Map<number, ShardEntry[] & { size: number; held: number }>();
    const writes: Promise<void>[] = [];
    // Past spillAboveBytes held, chunks wait in a local spill; shards with spilled chunks are
    // written one after another (each holds only its upload's parts).
    const { spillAboveBytes } = storageOptions();
    let held = 0;
    let spill: Promise<SpillFile> | undefined;
    let spilledWrites: Promise<void> = Promise.resolve();
    const release = async () => {
      const open = spill;
      spill = undefined;
      await Promise.allSettled(writes);
      if (open) await (await open).close();
    };
    return {
      add: async (chunks, encoded) => {
        for (const [i, bytes] of encoded(dataGzip)) {
          const g = this.gridCell(chunks[i]);
          const shard = this.sharded.shardOf(g);
          let entries = filling.get(shard);
          if (!entries) filling.set(shard, (entries = Object.assign([], { size: this.sharded.cellsOf(shard).length, held: 0 })));
          const id = this.sharded.idOf(g);
          if (held + bytes.length <= spillAboveBytes) {
            entries.push({ id, bytes, stored: dataGzip !== undefined });
            entries.held += bytes.length;
            held += bytes.length;
          } else {
            spill ??= SpillFile.open();
            // Spilled bytes have the data_encoding applied (a raw data_encoding applies none).
            entries.push({ id, bytes: await (await spill).append(bytes), stored: true });
          }
          if (entries.length === entries.size) {
            filling.delete(shard);
            const done = entries;
            const spilled = done.some((e) => !(e.bytes instanceof Uint8Array));
            const write = spilled
              ? (spilledWrites = spilledWrites.catch(() => {}).then(() => this.sharded.writeShard(shard, done, options)))
              : this.sharded.writeShard(shard, done, options);
            const settled = write.finally(() => (held -= done.held));
            settled.catch(() => {}); // (reported by finish)
            writes.push(settled);
          }
        }
      },
      finish: async () => {
        try {
          await Promise.all(writes);
          for (const [shard, entries] of filling)
            throw new InvalidInput(`scale ${this.sharded.key}: shard ${shard} got ${entries.length} of its ${entries.size} chunks; a shard is written whole`);
        } finally {
          await release();
        }
      },
      release,
    };
  }

  private byShard<T extends readonly [Box, number]>(items: T[]): Map<number, T[]> {
    const out = new Map<number, T[]>();
    for (const item of items) {
      const shard = this.sharded.shardOf(this.gridCell(item[0]));
      const list = out.get(shard);
      if (list) list.push(item);
      else out.set(shard, [item]);
    }
    return out;
  }
}
