// The URL scheme picks the store driver. mem:// stores live in one thread, so they are never prefetched.
import { InvalidInput } from '../common/errors.js';
import { FileStore } from './file-store.js';
import { GcsStore } from './gcs-store.js';
import { MemStore } from './mem-store.js';
import { withPrefetched } from './prefetched.js';
import { Store } from './store.js';

export function openStore(url: string): Store {
  if (url.startsWith('gs://')) return withPrefetched(new GcsStore(url));
  if (url.startsWith('mem://')) return new MemStore(url);
  if (url.startsWith('file://') || !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return withPrefetched(new FileStore(url));
  throw new InvalidInput(`unsupported storage URL "${url}": use file://, gs:// or mem://`);
}
