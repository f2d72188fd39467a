// mem:// store for tests: `mem://bucket/prefix`, one process-wide map per bucket, so any two URLs
// that name the same place see the same objects (as with gs://). Not shared between worker threads.
import { CorruptData, InvalidInput } from '../common/errors.js';
import { gunzip } from './gzip.js';
import { checkKey, GetOptions, maxBytesOf, PutOptions, storedBody, Store } from './store.js';

interface Entry {
  data: Uint8Array;
  gzip: boolean;
  contentType?: string;
}
const buckets = new Map<string, Map<string, Entry>>();

export class MemStore implements Store {
  private readonly map: Map<string, Entry>;
  private readonly prefix: string;

  constructor(readonly url: string) {
    const m = /^mem:\/\/([^/]+)\/?(.*)$/.exec(url);
    if (!m) throw new InvalidInput(`"${url}" is not a mem://bucket/path URL`);
    if (!buckets.has(m[1])) buckets.set(m[1], new Map());
    this.map = buckets.get(m[1])!;
    this.prefix = m[2].replace(/\/+$/, '') ? `${m[2].replace(/\/+$/, '')}/` : '';
  }

  private name(key: string): string {
    return this.prefix + checkKey(key);
  }

  async get(key: string, options?: GetOptions): Promise<Uint8Array | null> {
    const entry = this.map.get(this.name(key));
    if (!entry) return null;
    const maxBytes = maxBytesOf(options);
    if (entry.gzip) return gunzip(entry.data, `${this.url}/${key}`, maxBytes);
    if (entry.data.length > maxBytes) throw new CorruptData(`${this.url}/${key}: ${entry.data.length} bytes, more than the ${maxBytes} expected`);
    return entry.data.slice();
  }

  async getStored(key: string): Promise<{ body: Uint8Array; gzip: boolean } | null> {
    const entry = this.map.get(this.name(key));
    return entry ? { body: entry.data.slice(), gzip: entry.gzip } : null;
  }

  async getRange(key: string, offset: number, length: number): Promise<Uint8Array | null> {
    const entry = this.map.get(this.name(key));
    return entry ? entry.data.slice(offset, offset + length) : null;
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<void> {
    const { body, gzip } = storedBody(data, options);
    this.map.set(this.name(key), { data: body === data ? data.slice() : body, gzip, contentType: options.contentType });
  }

  async exists(key: string): Promise<boolean> {
    return this.map.has(this.name(key));
  }

  async *listPages(prefix = ''): AsyncIterable<string[]> {
    const start = this.prefix + prefix;
    const keys = [...this.map.keys()]
      .filter((k) => k.startsWith(start))
      .map((k) => k.slice(this.prefix.length))
      .sort();
    for (let i = 0; i < keys.length; i += 1000) yield keys.slice(i, i + 1000);
  }

  async delete(key: string): Promise<void> {
    this.map.delete(this.name(key));
  }

  /** Stored size in bytes (compressed where gzipped), for tests of the transport encoding. */
  storedSize(key: string): number | undefined {
    return this.map.get(this.name(key))?.data.byteLength;
  }
}
