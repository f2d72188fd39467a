// A digest Store (file://, gs://, mem://) as the readable store zarrita asks for: keys from the
// container's root, ranged reads where the codec wants a part (the v3 sharding index).
import type { AbsolutePath, AsyncReadable, RangeQuery } from '@zarrita/storage';
import { Store } from '../../storage/store.js';

/** The most bytes one zarr/N5 object (a chunk, a shard read whole, metadata) may take. */
export const MAX_LAB_OBJECT_BYTES = 1 << 30;

export function zarrStore(store: Store): AsyncReadable {
  const key = (k: AbsolutePath) => k.replace(/^\/+/, '');
  return {
    async get(k) {
      return (await store.get(key(k), { maxBytes: MAX_LAB_OBJECT_BYTES })) ?? undefined;
    },
    async getRange(k, range: RangeQuery) {
      if ('suffixLength' in range) {
        // (the v3 sharding index, at a shard's end)
        const size = await store.size(key(k));
        if (size === null) return undefined;
        const start = Math.max(0, size - range.suffixLength);
        return (await store.getRange(key(k), start, size - start)) ?? undefined;
      }
      return (await store.getRange(key(k), range.offset, range.length)) ?? undefined;
    },
  };
}
