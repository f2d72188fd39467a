// mem:// store for tests: `mem://bucket/prefix`, one process-wide map per bucket, so any two URLs
// that name the same place see the same objects (as with gs://). Not shared between worker threads.
import { CorruptData, InvalidInput } from '../common/errors.js';
import { gunzip } from './gzip.js';
import { checkKey, GetOptions, maxBytesOf, PieceBody, PutOptions, readWhole, storedBody, Store } from './store.js';

interface Entry {
  data: Uint8Array;
  gzip: boolean;
  contentType?: string;
}
const buckets = new Map<string, Map<string, Entry>>();

/** A bucket's requests, counted as a cloud store bills them (tests check the planner's estimates against these). */
export interface MemRequests {
  /** get, getRange, getStored and exists: class B operations. */
  reads: number;
  /** put, and each page listed: class A. */
  writes: number;
  lists: number;
  deletes: number;
  /** Reads of each key (the bucket's full key). */
  readsOf: Map<string, number>;
}
const requests = new Map<string, MemRequests>();

/** The requests made of `bucket` so far in this thread (counting starts at zero for a new bucket). */
export function memRequests(bucket: string): MemRequests {
  let r = requests.get(bucket);
  if (!r) requests.set(bucket, (r = { reads: 0, writes: 0, lists: 0, deletes: 0, readsOf: new Map() }));
  return r;
}

export class MemStore implements Store {
  private readonly map: Map<string, Entry>;
  private readonly prefix: string;
  private readonly counts: MemRequests;

  constructor(readonly url: string) {
    const m = /^mem:\/\/([^/]+)\/?(.*)$/.exec(url);
    if (!m) throw new InvalidInput(`"${url}" is not a mem://bucket/path URL`);
    if (!buckets.has(m[1])) buckets.set(m[1], new Map());
    this.map = buckets.get(m[1])!;
    this.counts = memRequests(m[1]);
    this.prefix = m[2].replace(/\/+$/, '') ? `${m[2].replace(/\/+$/, '')}/` : '';
  }

  private name(key: string): string {
    return this.prefix + checkKey(key);
  }

  private read(key: string): Entry | undefined {
    const name = this.name(key);
    this.counts.reads++;
    this.counts.readsOf.set(name, (this.counts.readsOf.get(name) ?? 0) + 1);
    return this.map.get(name);
  }

  async get(key: string, options?: GetOptions): Promise<Uint8Array | null> {
    const entry = this.read(key);
    if (!entry) return null;
    const maxBytes = maxBytesOf(options);
    if (entry.gzip) return gunzip(entry.data, `${this.url}/${key}`, maxBytes);
    if (entry.data.length > maxBytes) throw new CorruptData(`${this.url}/${key}: ${entry.data.length} bytes, more than the ${maxBytes} expected`);
    return entry.data.slice();
  }

  async getStored(key: string): Promise<{ body: Uint8Array; gzip: boolean } | null> {
    const entry = this.read(key);
    return entry ? { body: entry.data.slice(), gzip: entry.gzip } : null;
  }

  async size(key: string): Promise<number | null> {
    return this.read(key)?.data.length ?? null;
  }

  async getRange(key: string, offset: number, length: number): Promise<Uint8Array | null> {
    const entry = this.read(key);
    return entry ? entry.data.slice(offset, offset + length) : null;
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<void> {
    const { body, gzip } = storedBody(data, options);
    this.counts.writes++;
    this.map.set(this.name(key), { data: body === data ? data.slice() : body, gzip, contentType: options.contentType });
  }

  async putPieces(key: string, body: PieceBody, options: { contentType?: string } = {}): Promise<void> {
    await this.put(key, await readWhole(body), options);
  }

  async exists(key: string): Promise<boolean> {
    return this.read(key) !== undefined;
  }

  async *listPages(prefix = ''): AsyncIterable<string[]> {
    const start = this.prefix + prefix;
    const keys = [...this.map.keys()]
      .filter((k) => k.startsWith(start))
      .map((k) => k.slice(this.prefix.length))
      .sort();
    // A listing is one request a page, an empty one too.
    const pages = Math.max(1, Math.ceil(keys.length / 1000));
    this.counts.lists += pages;
    this.counts.writes += pages;
    for (let i = 0; i < keys.length; i += 1000) yield keys.slice(i, i + 1000);
  }

  async delete(key: string): Promise<void> {
    this.counts.deletes++;
    this.map.delete(this.name(key));
  }

  /** Stored size in bytes (compressed where gzipped), for tests of the transport encoding. */
  storedSize(key: string): number | undefined {
    return this.map.get(this.name(key))?.data.byteLength;
  }
}
