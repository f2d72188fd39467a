// The URL scheme picks the store driver.
import { FileStore } from './file-store.js';
import { GcsStore } from './gcs-store.js';
import { MemStore } from './mem-store.js';
import { Store } from './store.js';

export function openStore(url: string): Store {
  if (url.startsWith('gs://')) return new GcsStore(url);
  if (url.startsWith('mem://')) return new MemStore(url);
  if (url.startsWith('file://') || !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return new FileStore(url);
  throw new Error(`unsupported storage URL "${url}": use file://, gs:// or mem://`);
}
