// Copies every object under a layer from one store to another as stored: gzip-encoded objects stay
// gzip-encoded (file:// `key.gz` becomes a gs:// object with Content-Encoding: gzip, and back), so a
// layer written locally is servable from a bucket as-is, and nothing is decoded or re-encoded.
import { listAll, Store } from './store.js';
import { TransientError } from '../common/errors.js';

/** Content types as a static server or a bucket should give them to a viewer. */
export function contentTypeOf(key: string): string {
  return /(^|\/)info$|\.json$|(^|\/)[^/]*:\d+$/.test(key) ? 'application/json' : 'application/octet-stream';
}

export interface CopySummary {
  objects: number;
  bytes: number;
  gzipped: number;
}

/** Copies all of `from` into `to`, `concurrency` objects at a time. */
export async function copyLayer(from: Store, to: Store, concurrency = 16, onProgress?: (done: number, total: number) => void): Promise<CopySummary> {
  const keys = await listAll(from);
  const summary: CopySummary = { objects: 0, bytes: 0, gzipped: 0 };
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < keys.length; i = next++) {
      const stored = await from.getStored(keys[i]);
      if (!stored) throw new TransientError(`${from.url}/${keys[i]} disappeared while copying`);
      await to.put(keys[i], stored.body, { gzip: stored.gzip ? 'compressed' : false, contentType: contentTypeOf(keys[i]) });
      summary.objects++;
      summary.bytes += stored.body.length;
      if (stored.gzip) summary.gzipped++;
      onProgress?.(summary.objects, keys.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker));
  return summary;
}
