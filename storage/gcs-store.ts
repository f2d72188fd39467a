// gs:// store through @google-cloud/storage. The client retries every call with exponential backoff
// (all our writes are idempotent: a chunk rewritten holds the same bytes); a Limiter bounds open requests.
import { IdempotencyStrategy, Storage } from '@google-cloud/storage';
import { gzip } from './gzip.js';
import { Limiter } from './limit.js';
import { checkKey, PutOptions, Store } from './store.js';

let client: Storage | undefined;

/** One client per process; honours STORAGE_EMULATOR_HOST for emulators and test servers. */
function storageClient(): Storage {
  client ??= new Storage({
    ...(process.env.STORAGE_EMULATOR_HOST ? { apiEndpoint: process.env.STORAGE_EMULATOR_HOST, projectId: 'digest-test' } : {}),
    retryOptions: {
      autoRetry: true,
      maxRetries: Number(process.env.DIGEST_GCS_RETRIES ?? 6),
      retryDelayMultiplier: 2,
      maxRetryDelay: 32,
      totalTimeout: 600,
      idempotencyStrategy: IdempotencyStrategy.RetryAlways,
    },
  });
  return client;
}

const limiter = new Limiter(Number(process.env.DIGEST_GCS_CONCURRENCY ?? 32));

export class GcsStore implements Store {
  private readonly bucketName: string;
  private readonly prefix: string;

  constructor(readonly url: string) {
    const m = /^gs:\/\/([^/]+)\/?(.*)$/.exec(url);
    if (!m) throw new Error(`"${url}" is not a gs://bucket/path URL`);
    this.bucketName = m[1];
    this.prefix = m[2].replace(/\/+$/, '');
  }

  private name(key: string): string {
    checkKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private file(key: string) {
    return storageClient().bucket(this.bucketName).file(this.name(key));
  }

  async get(key: string): Promise<Uint8Array | null> {
    return limiter.run(async () => {
      try {
        const [buf] = await this.file(key).download({ decompress: true });
        return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      } catch (e) {
        if ((e as { code?: number }).code === 404) return null;
        throw e;
      }
    });
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<void> {
    const body = options.gzip ? gzip(data) : data;
    await limiter.run(() =>
      this.file(key).save(Buffer.from(body.buffer, body.byteOffset, body.byteLength), {
        resumable: false,
        validation: 'md5',
        metadata: {
          contentType: options.contentType ?? 'application/octet-stream',
          ...(options.gzip ? { contentEncoding: 'gzip' } : {}),
        },
      }),
    );
  }

  async exists(key: string): Promise<boolean> {
    return limiter.run(async () => (await this.file(key).exists())[0]);
  }

  async list(prefix = ''): Promise<string[]> {
    const base = this.prefix ? `${this.prefix}/` : '';
    const [files] = await limiter.run(() => storageClient().bucket(this.bucketName).getFiles({ prefix: base + prefix, autoPaginate: true }));
    return files.map((f) => f.name.slice(base.length)).sort();
  }

  async delete(key: string): Promise<void> {
    await limiter.run(() => this.file(key).delete({ ignoreNotFound: true }));
  }
}
