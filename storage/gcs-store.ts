// gs:// store through @google-cloud/storage. Every request has a stall timeout and our own retries
// (storage/retry.ts; the client's own retries are off so that the two do not multiply); all our
// writes are idempotent, a rewritten object holds the same bytes. Downloads are checked against the
// object's CRC32C by the client and inflated here, within the size the caller expects.
import type { Storage } from '@google-cloud/storage';
import { randomBytes } from 'node:crypto';
import { gunzip, gzipBound } from './gzip.js';
import { Limiter } from './limit.js';
import { onStorageConfigured, PARTS_AT_ONCE, storageOptions } from './options.js';
import { withRetries } from './retry.js';
import { checkKey, DEFAULT_MAX_BYTES, GetOptions, maxBytesOf, PieceBody, PutOptions, readWhole, storedBody, Store } from './store.js';
import { CorruptData, InvalidInput } from '../common/errors.js';

let client: Storage | undefined;
let limiter: Limiter | undefined;
onStorageConfigured(() => {
  client = undefined;
  limiter = undefined;
});

/**
 * One client per process, built from the storage options. The SDK loads on first use: it takes a
 * worker thread longer to load than a local task takes to run.
 */
async function storageClient(): Promise<Storage> {
  const { Storage } = await import('@google-cloud/storage');
  const { gcsEndpoint, project } = storageOptions();
  // An emulator needs some project id; off GCP the client would otherwise probe for one.
  const projectId = project ?? (gcsEndpoint ? 'digest-test' : undefined);
  client ??= new Storage({
    ...(gcsEndpoint ? { apiEndpoint: gcsEndpoint } : {}),
    ...(projectId ? { projectId } : {}),
    retryOptions: { autoRetry: false },
  });
  return client;
}

function requests(): Limiter {
  limiter ??= new Limiter(storageOptions().concurrency);
  return limiter;
}

export class GcsStore implements Store {
  private readonly bucketName: string;
  private readonly prefix: string;

  constructor(readonly url: string) {
    const m = /^gs:\/\/([^/]+)\/?(.*)$/.exec(url);
    if (!m) throw new InvalidInput(`"${url}" is not a gs://bucket/path URL`);
    this.bucketName = m[1];
    this.prefix = m[2].replace(/\/+$/, '');
  }

  private name(key: string): string {
    checkKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private async file(key: string) {
    return (await storageClient()).bucket(this.bucketName).file(this.name(key));
  }

  private where(key: string): string {
    return `gs://${this.bucketName}/${this.name(key)}`;
  }

  /** One request about `what`, limited, timed and retried; 404 gives null. */
  private request<T>(what: string, op: (signal: AbortSignal, progress: () => void) => Promise<T>): Promise<T | null> {
    return requests().run(() =>
      withRetries(what, async (signal, progress) => {
        try {
          return await op(signal, progress);
        } catch (e) {
          if ((e as { code?: number }).code === 404) return null;
          throw e;
        }
      }),
    );
  }

  async get(key: string, options?: GetOptions): Promise<Uint8Array | null> {
    const maxBytes = maxBytesOf(options);
    const got = await this.request(this.where(key), (signal, progress) => this.download(key, { validation: 'crc32c' }, signal, progress, gzipBound(maxBytes)));
    if (!got) return null;
    return got.gzip ? gunzip(got.bytes, this.where(key), maxBytes) : got.bytes;
  }

  async getStored(key: string): Promise<{ body: Uint8Array; gzip: boolean } | null> {
    const got = await this.request(this.where(key), (signal, progress) => this.download(key, { validation: 'crc32c' }, signal, progress, DEFAULT_MAX_BYTES));
    return got ? { body: got.bytes, gzip: got.gzip } : null;
  }

  async getRange(key: string, offset: number, length: number): Promise<Uint8Array | null> {
    if (length <= 0) return (await this.exists(key)) ? new Uint8Array(0) : null;
    const got = await this.request(this.where(key), async (signal, progress) => {
      try {
        return await this.download(key, { start: offset, end: offset + length - 1, validation: false }, signal, progress, length);
      } catch (e) {
        if ((e as { code?: number }).code === 416) return { bytes: new Uint8Array(0), gzip: false }; // starts past the end
        throw e;
      }
    });
    return got?.bytes ?? null;
  }

  /** The stored bytes (still gzip-encoded where the object is), collected with a stall timeout. */
  private async download(
    key: string,
    opts: { start?: number; end?: number; validation: 'crc32c' | false },
    signal: AbortSignal,
    progress: () => void,
    limit?: number,
  ): Promise<{ bytes: Uint8Array; gzip: boolean }> {
    const file = await this.file(key);
    return new Promise((resolve, reject) => {
      const stream = file.createReadStream({ ...opts, decompress: false });
      const parts: Buffer[] = [];
      let size = 0,
        gzipped = false;
      const abort = () => stream.destroy(signal.reason as Error);
      signal.addEventListener('abort', abort, { once: true });
      stream.on('response', (res: { headers: Record<string, string | undefined> }) => {
        gzipped = res.headers['content-encoding'] === 'gzip';
        progress();
      });
      stream.on('data', (chunk: Buffer) => {
        progress();
        size += chunk.length;
        if (limit !== undefined && size > limit) stream.destroy(new CorruptData(`${this.where(key)}: more than the ${limit} bytes expected`));
        else parts.push(chunk);
      });
      stream.on('error', (e) => {
        signal.removeEventListener('abort', abort);
        reject(e);
      });
      stream.on('end', () => {
        signal.removeEventListener('abort', abort);
        const all = Buffer.concat(parts);
        resolve({ bytes: new Uint8Array(all.buffer, all.byteOffset, all.byteLength), gzip: gzipped });
      });
    });
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<void> {
    const { body, gzip } = storedBody(data, options);
    const buffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    await this.request(this.where(key), async () =>
      (await this.file(key)).save(buffer, {
        resumable: false,
        validation: 'md5',
        timeout: storageOptions().timeoutMs,
        metadata: {
          contentType: options.contentType ?? 'application/octet-stream',
          ...(gzip ? { contentEncoding: 'gzip' } : {}),
        },
      }),
    );
  }

  /**
   * A body larger than a part goes up as pieces, each an object of its own (uploaded and retried
   * alone, a few at once), composed into the object (GCS composes at most 32 sources at a time:
   * larger bodies fold in 31 more pieces per compose), then deleted. The object appears at the last
   * compose; pieces a killed writer leaves are `<key>.piece-*` (a lifecycle rule clears them).
   */
  async putPieces(key: string, body: PieceBody, options: { contentType?: string } = {}): Promise<void> {
    const partBytes = storageOptions().partBytes;
    if (body.size <= partBytes) return this.put(key, await readWhole(body), options);
    const stem = `${key}.piece-${randomBytes(4).toString('hex')}`;
    const count = Math.ceil(body.size / partBytes);
    const made: string[] = [];
    try {
      let next = 0;
      const sender = async () => {
        for (let i = next++; i < count; i = next++) {
          const piece = await body.read(i * partBytes, Math.min(partBytes, body.size - i * partBytes));
          made.push(`${stem}-${i}`);
          await this.put(`${stem}-${i}`, piece);
        }
      };
      await Promise.all(Array.from({ length: Math.min(PARTS_AT_ONCE, count) }, sender));
      let composed: string | undefined;
      for (let i = 0; i < count;) {
        const take = Array.from({ length: Math.min(composed ? 31 : 32, count - i) }, (_, j) => `${stem}-${i + j}`);
        i += take.length;
        const target = i === count ? key : `${stem}-composed-${i}`;
        if (target !== key) made.push(target);
        await this.compose(composed ? [composed, ...take] : take, target, options.contentType ?? 'application/octet-stream');
        composed = target;
      }
    } finally {
      await Promise.all(made.map((name) => this.delete(name).catch(() => {})));
    }
  }

  private async compose(sources: string[], target: string, contentType: string): Promise<void> {
    const bucket = (await storageClient()).bucket(this.bucketName);
    await this.request(`${this.where(target)} (composed of ${sources.length} pieces)`, async () => {
      const destination = bucket.file(this.name(target));
      destination.metadata.contentType = contentType;
      await bucket.combine(
        sources.map((s) => bucket.file(this.name(s))),
        destination,
      );
    });
  }

  async size(key: string): Promise<number | null> {
    return this.request(this.where(key), async () => Number((await (await this.file(key)).getMetadata())[0].size));
  }

  async exists(key: string): Promise<boolean> {
    return (await this.request(this.where(key), async () => (await (await this.file(key)).exists())[0])) ?? false;
  }

  async *listPages(prefix = ''): AsyncIterable<string[]> {
    const base = this.prefix ? `${this.prefix}/` : '';
    let pageToken: string | undefined;
    do {
      const [files, next] = (await this.request(`listing gs://${this.bucketName}/${base}${prefix}`, async () =>
        (await storageClient()).bucket(this.bucketName).getFiles({
          prefix: base + prefix,
          autoPaginate: false,
          maxResults: 1000,
          ...(pageToken ? { pageToken } : {}),
        }),
      ))!;
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
      yield files.map((f) => f.name.slice(base.length));
    } while (pageToken);
  }

  async delete(key: string): Promise<void> {
    await this.request(this.where(key), async () => (await this.file(key)).delete({ ignoreNotFound: true }));
  }
}
