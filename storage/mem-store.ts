// mem:// store for tests: one process-wide map per URL root, so separate opens of one URL share data.
import { gunzip, gzip } from './gzip.js';
import { checkKey, PutOptions, Store } from './store.js';

interface Entry { data: Uint8Array; gzip: boolean; contentType?: string }
const buckets = new Map<string, Map<string, Entry>>();

export class MemStore implements Store {
  private readonly map: Map<string, Entry>;

  constructor(readonly url: string) {
    const root = url.replace(/\/+$/, '');
    if (!buckets.has(root)) buckets.set(root, new Map());
    this.map = buckets.get(root)!;
  }

  async get(key: string): Promise<Uint8Array | null> {
    const entry = this.map.get(checkKey(key));
    if (!entry) return null;
    return entry.gzip ? gunzip(entry.data, `${this.url}/${key}`) : entry.data.slice();
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<void> {
    this.map.set(checkKey(key), { data: options.gzip ? gzip(data) : data.slice(), gzip: !!options.gzip, contentType: options.contentType });
  }

  async exists(key: string): Promise<boolean> {
    return this.map.has(checkKey(key));
  }

  async list(prefix = ''): Promise<string[]> {
    return [...this.map.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  async delete(key: string): Promise<void> {
    this.map.delete(checkKey(key));
  }

  /** Stored size in bytes (compressed where gzipped), for tests of the transport encoding. */
  storedSize(key: string): number | undefined {
    return this.map.get(key)?.data.byteLength;
  }
}
