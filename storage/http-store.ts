// https:// (and http://) stores, read-only: public layers and files served over HTTP as sources.
// GETs (gzip Content-Encoding inflated by fetch, the result held to the size the caller expects),
// ranged GETs, HEAD for existence and size; each request with our stall timeout and retries (408,
// 429 and 5xx transient). Listing, writing and deleting are refused with the scheme named.
import { InvalidInput, TransientError } from '../common/errors.js';
import { Limiter } from './limit.js';
import { onStorageConfigured, storageOptions } from './options.js';
import { readBody, withRetries } from './retry.js';
import { checkKey, DEFAULT_MAX_BYTES, GetOptions, maxBytesOf, Store } from './store.js';

let limiter: Limiter | undefined;
onStorageConfigured(() => {
  limiter = undefined;
});
function requests(): Limiter {
  limiter ??= new Limiter(storageOptions().concurrency);
  return limiter;
}

export class HttpStore implements Store {
  private readonly base: string;

  constructor(readonly url: string) {
    if (!/^https?:\/\/[^/]+/i.test(url)) throw new InvalidInput(`"${url}" is not an http(s):// URL`);
    this.base = url.replace(/\/+$/, '');
  }

  private where(key: string): string {
    checkKey(key);
    return `${this.base}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  /** One request, limited, timed and retried: the response and its body read within `limit` bytes; 404 gives null. */
  private request(
    key: string,
    init: { method: 'GET' | 'HEAD'; range?: string },
    limit: number,
  ): Promise<{ status: number; headers: Headers; body: Uint8Array } | null> {
    const url = this.where(key);
    return requests().run(() =>
      withRetries(url, async (signal, progress) => {
        const res = await fetch(url, { method: init.method, headers: init.range ? { Range: init.range } : {}, signal });
        progress();
        if (res.status === 404 || res.status === 410) return null;
        if (res.status === 408 || res.status === 429 || res.status >= 500) throw new TransientError(`${url}: HTTP ${res.status}`);
        if (res.status === 416) return { status: 416, headers: res.headers, body: new Uint8Array(0) };
        if (res.status >= 400) throw new InvalidInput(`${url}: HTTP ${res.status}`);
        const body = res.body ? await readBody(res.body as unknown as AsyncIterable<Uint8Array>, limit, url, progress) : new Uint8Array(0);
        return { status: res.status, headers: res.headers, body };
      }),
    );
  }

  async get(key: string, options?: GetOptions): Promise<Uint8Array | null> {
    return (await this.request(key, { method: 'GET' }, maxBytesOf(options)))?.body ?? null;
  }

  /** The object's bytes (fetch has inflated a gzip-encoded one already). */
  async getStored(key: string): Promise<{ body: Uint8Array; gzip: boolean } | null> {
    const got = await this.request(key, { method: 'GET' }, DEFAULT_MAX_BYTES);
    return got ? { body: got.body, gzip: false } : null;
  }

  async getRange(key: string, offset: number, length: number): Promise<Uint8Array | null> {
    if (length <= 0) return (await this.exists(key)) ? new Uint8Array(0) : null;
    // A server that ignores the range answers 200 with the whole object: then its part is taken.
    const got = await this.request(key, { method: 'GET', range: `bytes=${offset}-${offset + length - 1}` }, Math.max(length, DEFAULT_MAX_BYTES));
    if (!got) return null;
    if (got.status === 206 || got.status === 416) return got.body.subarray(0, length);
    return got.body.subarray(offset, offset + length);
  }

  async size(key: string): Promise<number | null> {
    const got = await this.request(key, { method: 'HEAD' }, 0);
    if (!got) return null;
    const length = Number(got.headers.get('content-length'));
    if (!Number.isFinite(length)) throw new InvalidInput(`${this.where(key)}: the server gives no Content-Length`);
    return length;
  }

  async exists(key: string): Promise<boolean> {
    return (await this.request(key, { method: 'HEAD' }, 0)) !== null;
  }

  put(key: string): Promise<void> {
    return Promise.reject(new InvalidInput(`${this.where(key)}: ${this.scheme()} is read-only; write to file://, gs:// or s3://`));
  }

  putPieces(key: string): Promise<void> {
    return this.put(key);
  }

  delete(key: string): Promise<void> {
    return Promise.reject(new InvalidInput(`${this.where(key)}: ${this.scheme()} is read-only`));
  }

  async *listPages(): AsyncIterable<string[]> {
    throw new InvalidInput(`${this.base}: ${this.scheme()} cannot be listed; name the objects (a layer's info, its chunks) instead`);
  }

  private scheme(): string {
    return `${this.url.slice(0, this.url.indexOf(':'))}://`;
  }
}
