// The URL scheme picks the store driver from a registry (a plain path is file://). Adding a scheme:
// a module with a Store class (storage/store.ts; storage/stores.test.ts is the contract every driver
// passes), and one line here.
import { resolve } from 'node:path';
import { InvalidInput } from '../common/errors.js';
import { storageOptions } from './options.js';
import { FileStore } from './file-store.js';
import { GcsStore } from './gcs-store.js';
import { MemStore } from './mem-store.js';
import { S3Store } from './s3-store.js';
import { HttpStore } from './http-store.js';
import { withPrefetched } from './prefetched.js';
import { Store } from './store.js';

interface Scheme {
  open(url: string): Store;
  /** Bytes read ahead for a task in the main thread reach its pool thread (not for mem://, per thread). */
  prefetched: boolean;
}

const SCHEMES: Record<string, Scheme> = {
  'file:': { open: (url) => new FileStore(url), prefetched: true },
  'gs:': { open: (url) => new GcsStore(url), prefetched: true },
  'mem:': { open: (url) => new MemStore(url), prefetched: false },
  's3:': { open: (url) => new S3Store(url), prefetched: true },
  'https:': { open: (url) => new HttpStore(url), prefetched: true },
  'http:': { open: (url) => new HttpStore(url), prefetched: true },
};

/** `file:` for a plain path, else the URL's scheme with its colon. */
function schemeOf(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  return m ? `${m[1].toLowerCase()}:` : 'file:';
}

export function openStore(url: string): Store {
  checkAllowed(url);
  const scheme = SCHEMES[schemeOf(url)];
  if (!scheme)
    throw new InvalidInput(
      `unsupported storage URL "${url}": use ${Object.keys(SCHEMES)
        .map((s) => `${s}//`)
        .join(', ')}`,
    );
  const store = scheme.open(url);
  return scheme.prefetched ? withPrefetched(store) : store;
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
  const allowed = prefixes.some((p) => {
    const c = canonical(p).replace(/\/+$/, '');
    return at === c || at.startsWith(`${c}/`);
  });
  if (!allowed) throw new InvalidInput(`storage URL "${url}" is outside the allowed prefixes (${prefixes.join(', ')})`);
}
