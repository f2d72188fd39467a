// The URL scheme picks the store driver. mem:// stores live in one thread, so they are never prefetched.
import { resolve } from 'node:path';
import { InvalidInput } from '../common/errors.js';
import { storageOptions } from './options.js';
import { FileStore } from './file-store.js';
import { GcsStore } from './gcs-store.js';
import { MemStore } from './mem-store.js';
import { withPrefetched } from './prefetched.js';
import { Store } from './store.js';

export function openStore(url: string): Store {
  checkAllowed(url);
  if (url.startsWith('gs://')) return withPrefetched(new GcsStore(url));
  if (url.startsWith('mem://')) return new MemStore(url);
  if (url.startsWith('file://') || !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return withPrefetched(new FileStore(url));
  throw new InvalidInput(`unsupported storage URL "${url}": use file://, gs:// or mem://`);
}

/** `url` as one spelling: plain and file:// paths absolute as file:///..., others as given. */
function canonical(url: string): string {
  if (url.startsWith('file://') || !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return `file://${resolve(url.replace(/^file:\/\//, ''))}`;
  return url;
}

function checkAllowed(url: string): void {
  const prefixes = storageOptions().allowPrefixes;
  if (!prefixes) return;
  const at = canonical(url);
  // A prefix is a whole path: gs://lab allows gs://lab/x, not gs://lab-other.
  const allowed = prefixes.some((p) => { const c = canonical(p).replace(/\/+$/, ''); return at === c || at.startsWith(`${c}/`); });
  if (!allowed) throw new InvalidInput(`storage URL "${url}" is outside the allowed prefixes (${prefixes.join(', ')})`);
}
