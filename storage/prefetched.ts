// Bytes fetched ahead of a task (runtime/prefetch.ts) and handed to its worker thread with it. A store
// opened in that thread answers get() from here first, once per object; anything not here (or a
// second read) goes to storage as usual, so prefetching can only save time, never change results.
import { GetOptions, joinUrl, maxBytesOf, PieceBody, PutOptions, Store } from './store.js';

const cache = new Map<string, Uint8Array>();

/** The cache key of `key` in the store at `storeUrl`. */
export function objectUrl(storeUrl: string, key: string): string {
  return joinUrl(storeUrl, key);
}

export function setPrefetched(entries: { url: string; bytes: Uint8Array }[]): void {
  cache.clear();
  for (const e of entries) cache.set(e.url, e.bytes);
}

export function clearPrefetched(): void {
  cache.clear();
}

/** `store`, with get() answered from the prefetched bytes where it can. */
export function withPrefetched(store: Store): Store {
  return {
    url: store.url,
    get: async (key: string, options?: GetOptions) => {
      if (cache.size > 0) {
        const url = objectUrl(store.url, key);
        const bytes = cache.get(url);
        if (bytes && bytes.length <= maxBytesOf(options)) {
          cache.delete(url);
          return bytes;
        }
      }
      return store.get(key, options);
    },
    getStored: (key: string) => store.getStored(key),
    getRange: (key: string, offset: number, length: number) => store.getRange(key, offset, length),
    size: (key: string) => store.size(key),
    put: (key: string, data: Uint8Array, options?: PutOptions) => store.put(key, data, options),
    putPieces: (key: string, body: PieceBody, options?: { contentType?: string }) => store.putPieces(key, body, options),
    exists: (key: string) => store.exists(key),
    listPages: (prefix?: string) => store.listPages(prefix),
    delete: (key: string) => store.delete(key),
  };
}
