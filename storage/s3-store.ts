// s3:// store through the AWS SDK v3 (@aws-sdk/client-s3): AWS, or an S3-compatible server at
// `s3Endpoint` (MinIO, Ceph, R2; path-style addressing). Credentials and region come from the SDK's
// standard chain (environment, profile, instance or IRSA role). As gs://: every request has a stall
// timeout and our own retries (the SDK's are off so that the two do not multiply), a put is one
// PutObject or one multipart upload (atomic either way; a piece body's parts are read as they are
// sent, so that a shard larger than memory goes up from its spill file), whole reads are checked against the CRC32
// stored with the object, gzip objects carry Content-Encoding: gzip and are inflated here within the size
// the caller expects, ranged reads read objects as stored.
import type { S3Client } from '@aws-sdk/client-s3';
import { crc32 } from 'node:zlib';
import { InvalidInput, TransientError } from '../common/errors.js';
import { gunzip, gzipBound } from './gzip.js';
import { Limiter } from './limit.js';
import { onStorageConfigured, PARTS_AT_ONCE, storageOptions } from './options.js';
import { checksumMismatch, readBody, withRetries } from './retry.js';
import { checkKey, DEFAULT_MAX_BYTES, GetOptions, heldBody, maxBytesOf, PieceBody, PutOptions, readWhole, storedBody, Store } from './store.js';

/** The user metadata (x-amz-meta-digest-crc32) holding the CRC32 of an object's stored bytes. */
const CRC32_METADATA = 'digest-crc32';

let client: Promise<S3Client> | undefined;
let limiter: Limiter | undefined;
onStorageConfigured(() => {
  client = undefined;
  limiter = undefined;
});

/** One client per process, built from the storage options; the SDK loads on first use. */
function s3Client(): Promise<S3Client> {
  client ??= import('@aws-sdk/client-s3').then(({ S3Client }) => {
    const { s3Endpoint } = storageOptions();
    return new S3Client({
      ...(s3Endpoint ? { endpoint: s3Endpoint, forcePathStyle: true } : {}),
      region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      maxAttempts: 1,
    });
  });
  return client;
}

function requests(): Limiter {
  limiter ??= new Limiter(storageOptions().concurrency);
  return limiter;
}

/** The SDK's error as an HTTP status (404 for a missing key or bucket). */
const statusOf = (e: unknown) => (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

export class S3Store implements Store {
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(readonly url: string) {
    const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
    if (!m) throw new InvalidInput(`"${url}" is not an s3://bucket/path URL`);
    this.bucket = m[1];
    this.prefix = m[2].replace(/\/+$/, '');
  }

  private name(key: string): string {
    checkKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private where(key: string): string {
    return `s3://${this.bucket}/${this.name(key)}`;
  }

  /** One request about `what`, limited, timed and retried; 404 gives null. */
  private request<T>(what: string, op: (client: S3Client, signal: AbortSignal, progress: () => void) => Promise<T>): Promise<T | null> {
    return requests().run(() =>
      withRetries(what, async (signal, progress) => {
        try {
          return await op(await s3Client(), signal, progress);
        } catch (e) {
          const status = statusOf(e);
          const name = (e as { name?: string }).name;
          // The SDK checks a whole object's CRC32 (stored at upload) against the bytes that came.
          if (/^Checksum mismatch/.test((e as Error).message ?? '')) throw checksumMismatch(what, e);
          // S3 refused an upload whose bytes did not match their checksum: they changed on the way.
          if (name === 'BadDigest' || name === 'XAmzContentChecksumMismatch') throw new TransientError(`${what}: ${status} ${name}`, { cause: e });
          // An answer of 200 the SDK could not parse came garbled.
          if (status !== undefined && status < 300) throw new TransientError(`${what}: an unreadable answer (${(e as Error).message})`, { cause: e });
          if (name === 'NoSuchBucket') throw new InvalidInput(`${what}: bucket ${this.bucket} does not exist`, { cause: e });
          if (status === 404 || name === 'NoSuchKey') return null;
          // Throttling (503 SlowDown, 429) and server errors are retried; other statuses are not.
          if (status !== undefined && (status === 408 || status === 429 || status >= 500))
            throw new TransientError(`${what}: ${status} ${(e as Error).name}`, { cause: e });
          if (status !== undefined) throw new InvalidInput(`${what}: ${status} ${(e as Error).name}: ${(e as Error).message}`, { cause: e });
          throw e;
        }
      }),
    );
  }

  /** An object's stored bytes (gzip-encoded where it is), read with a stall timeout and a size bound. */
  private async download(key: string, range: string | undefined, limit: number): Promise<{ bytes: Uint8Array; gzip: boolean } | null> {
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    return this.request(this.where(key), async (s3, signal, progress) => {
      let res;
      try {
        res = await s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.name(key), Range: range }), { abortSignal: signal });
      } catch (e) {
        if (statusOf(e) === 416) return { bytes: new Uint8Array(0), gzip: false }; // a range past the end
        throw e;
      }
      progress();
      const bytes = await readBody(res.Body as AsyncIterable<Uint8Array>, limit, this.where(key), progress);
      if (res.ContentLength !== undefined && bytes.length !== res.ContentLength)
        throw new TransientError(`${this.where(key)}: ${bytes.length} of the ${res.ContentLength} bytes announced came`);
      // Our own CRC32 of the stored bytes, kept with every object we put: whole reads are checked
      // against it on any S3-compatible server and for multipart objects too (the SDK's own check
      // covers single-part objects on servers that keep checksums). Ranges cannot be checked.
      const stored = res.Metadata?.[CRC32_METADATA];
      if (range === undefined && stored !== undefined && String(crc32(bytes)) !== stored)
        throw checksumMismatch(this.where(key), new Error(`CRC32 of the ${bytes.length} bytes is ${crc32(bytes)}, not the ${stored} stored with them`));
      return { bytes, gzip: res.ContentEncoding === 'gzip' };
    });
  }

  async get(key: string, options?: GetOptions): Promise<Uint8Array | null> {
    const maxBytes = maxBytesOf(options);
    const got = await this.download(key, undefined, gzipBound(maxBytes));
    if (!got) return null;
    return got.gzip ? gunzip(got.bytes, this.where(key), maxBytes) : got.bytes;
  }

  async getStored(key: string): Promise<{ body: Uint8Array; gzip: boolean } | null> {
    const got = await this.download(key, undefined, DEFAULT_MAX_BYTES);
    return got ? { body: got.bytes, gzip: got.gzip } : null;
  }

  async getRange(key: string, offset: number, length: number): Promise<Uint8Array | null> {
    if (length <= 0) return (await this.exists(key)) ? new Uint8Array(0) : null;
    const got = await this.download(key, `bytes=${offset}-${offset + length - 1}`, length);
    return got?.bytes ?? null;
  }

  async size(key: string): Promise<number | null> {
    const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
    return this.request(this.where(key), async (s3, signal) => {
      const head = await s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.name(key) }), { abortSignal: signal });
      return head.ContentLength ?? 0;
    });
  }

  async exists(key: string): Promise<boolean> {
    return (await this.size(key)) !== null;
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<void> {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const { body, gzip } = storedBody(data, options);
    const headers = {
      Bucket: this.bucket,
      Key: this.name(key),
      ContentType: options.contentType ?? 'application/octet-stream',
      Metadata: { [CRC32_METADATA]: String(crc32(body)) },
      ...(gzip ? { ContentEncoding: 'gzip' } : {}),
    };
    if (body.length > storageOptions().partBytes) return this.putParts(key, heldBody(body), headers);
    await this.request(this.where(key), (s3, signal) =>
      s3.send(new PutObjectCommand({ ...headers, Body: body, ContentLength: body.length }), { abortSignal: signal }),
    );
  }

  /** A body read a part at a time: once for its CRC32 (stored at the upload's start), then part by part. */
  async putPieces(key: string, body: PieceBody, options: { contentType?: string } = {}): Promise<void> {
    const partBytes = storageOptions().partBytes;
    if (body.size <= partBytes) return this.put(key, await readWhole(body), options);
    let crc = 0;
    for (let at = 0; at < body.size; at += partBytes) crc = crc32(await body.read(at, Math.min(partBytes, body.size - at)), crc);
    const headers = {
      Bucket: this.bucket,
      Key: this.name(key),
      ContentType: options.contentType ?? 'application/octet-stream',
      Metadata: { [CRC32_METADATA]: String(crc) },
    };
    await this.putParts(key, body, headers);
  }

  /**
   * A multipart upload: parts of partBytes, a few at once, each retried alone; the object appears
   * only when the upload completes (still one atomic put), and a failed upload is aborted so that
   * its parts are not kept (and billed).
   */
  private async putParts(
    key: string,
    body: PieceBody,
    headers: { Bucket: string; Key: string; ContentType: string; Metadata: Record<string, string> },
  ): Promise<void> {
    const { CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand, AbortMultipartUploadCommand } = await import('@aws-sdk/client-s3');
    const where = this.where(key);
    const created = await this.request(where, (s3, signal) => s3.send(new CreateMultipartUploadCommand(headers), { abortSignal: signal }));
    const UploadId = created?.UploadId;
    if (!UploadId) throw new TransientError(`${where}: the server started no multipart upload`);
    const { Bucket, Key } = headers;
    const size = storageOptions().partBytes;
    const count = Math.ceil(body.size / size);
    const parts: { PartNumber: number; ETag: string }[] = [];
    try {
      let next = 0;
      const sender = async () => {
        for (let i = next++; i < count; i = next++) {
          const Body = await body.read(i * size, Math.min(size, body.size - i * size));
          const sent = await this.request(`${where} (part ${i + 1} of ${count})`, (s3, signal) =>
            s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body, ContentLength: Body.length }), { abortSignal: signal }),
          );
          if (!sent?.ETag) throw new TransientError(`${where}: part ${i + 1} of ${count} got no ETag`);
          parts[i] = { PartNumber: i + 1, ETag: sent.ETag };
        }
      };
      await Promise.all(Array.from({ length: Math.min(PARTS_AT_ONCE, count) }, sender));
      const done = await this.request(where, (s3, signal) =>
        s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }), { abortSignal: signal }),
      );
      // No such upload: an earlier try completed it and its answer was lost, if the object is there whole.
      if (!done && (await this.size(key)) !== body.size) throw new TransientError(`${where}: the multipart upload ${UploadId} was gone before it completed`);
    } catch (e) {
      await this.request(`${where} (aborting its upload)`, (s3, signal) =>
        s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }), { abortSignal: signal }),
      ).catch(() => {}); // what failed first is the error to report; S3's lifecycle rules clear what stays
      throw e;
    }
  }

  async *listPages(prefix = ''): AsyncIterable<string[]> {
    const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    const base = this.prefix ? `${this.prefix}/` : '';
    let token: string | undefined;
    do {
      const page = await this.request(`listing s3://${this.bucket}/${base}${prefix}`, (s3, signal) =>
        s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base + prefix, ContinuationToken: token, MaxKeys: 1000 }), { abortSignal: signal }),
      );
      if (!page) return;
      yield (page.Contents ?? []).map((o) => o.Key!.slice(base.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
    await this.request(this.where(key), (s3, signal) =>
      s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.name(key) }), { abortSignal: signal }),
    );
  }
}
