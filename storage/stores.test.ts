import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GcsTestServer } from '../test/gcs-server.js';
import { S3Server, s3Server } from '../test/s3-server.js';
import { MemStore } from './mem-store.js';
import { openStore } from './open.js';
import { configureStorage, StorageOptions } from './options.js';
import { piecesBody, SpillFile } from './spill.js';
import { listAll, Store } from './store.js';

const server = new GcsTestServer();
let gcsReady = false;
let s3: S3Server | undefined;

let current: Partial<StorageOptions> = {};

beforeAll(async () => {
  s3 = await s3Server();
  current = { gcsEndpoint: await server.start(), s3Endpoint: s3?.endpoint, retryDelayMs: 20 };
  configureStorage(current);
  gcsReady = true;
});
afterAll(() => {
  server.stop();
  s3?.stop();
});

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null) => (b ? new TextDecoder().decode(b) : null);

async function contract(store: Store): Promise<void> {
  expect(await store.get('a/missing')).toBeNull();
  expect(await store.exists('a/missing')).toBe(false);
  await store.put('a/one', bytes('first'));
  await store.put('a/two', bytes('second '.repeat(100)), { gzip: true });
  await store.put('b/three', bytes('third'));
  expect(text(await store.get('a/one'))).toBe('first');
  expect(text(await store.get('a/two'))).toBe('second '.repeat(100));
  // Ranges and the size of a plain object: its end read as a zarr v3 shard's index is.
  expect(await store.size('b/three')).toBe(5);
  expect(await store.size('a/missing')).toBeNull();
  expect(text(await store.getRange('b/three', 1, 3))).toBe('hir');
  expect(text(await store.getRange('b/three', 3, 10))).toBe('rd');
  expect(await store.exists('a/two')).toBe(true);
  expect(await listAll(store, 'a/')).toEqual(['a/one', 'a/two']);
  expect(await listAll(store)).toEqual(['a/one', 'a/two', 'b/three']);
  await store.put('a/one', bytes('rewritten'), { gzip: true });
  expect(text(await store.get('a/one'))).toBe('rewritten');
  expect(await listAll(store, 'a/')).toEqual(['a/one', 'a/two']);
  await store.delete('a/one');
  await store.delete('a/never-was');
  expect(await store.get('a/one')).toBeNull();
  await expect(store.get('../escape')).rejects.toThrow(/must be a relative path/);
}

/**
 * putPieces of `size` random bytes from held pieces and a spilled one, in parts of `partBytes`:
 * the object reads back whole and by range, and nothing else is left under its prefix.
 */
async function piecesContract(store: Store, size: number, partBytes: number): Promise<void> {
  configureStorage({ ...current, partBytes });
  try {
    const data = randomBytes(size);
    const spill = await SpillFile.open();
    try {
      const third = Math.floor(size / 3);
      const spilled = await spill.append(data.subarray(third, 2 * third));
      const body = piecesBody([data.subarray(0, third), spilled, data.subarray(2 * third)]);
      await store.putPieces('p/big', body);
      expect(Buffer.from((await store.get('p/big'))!).equals(data)).toBe(true);
      expect(Buffer.from((await store.getRange('p/big', third - 5, 10))!).equals(data.subarray(third - 5, third + 5))).toBe(true);
      expect(await store.size('p/big')).toBe(size);
      expect(await listAll(store, 'p/')).toEqual(['p/big']);
      // Small bodies too (one put).
      await store.putPieces('p/small', piecesBody([data.subarray(0, 10)]));
      expect(Buffer.from((await store.get('p/small'))!).equals(data.subarray(0, 10))).toBe(true);
    } finally {
      await spill.close();
    }
  } finally {
    configureStorage(current);
  }
}

describe('store contract', () => {
  it('file://', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'digest-store-'));
    await contract(openStore(`file://${dir}`));
    await piecesContract(openStore(`file://${dir}`), 20 << 20, 5 << 20); // copied 8 MiB at a time
  });
  it('mem://', async () => {
    await contract(openStore('mem://contract'));
    await piecesContract(openStore('mem://contract'), 100_000, 5 << 20);
  });
  it("s3:// against moto's S3 server", async (ctx) => {
    if (!s3) return ctx.skip();
    await s3.bucket('digest-contract');
    await contract(openStore('s3://digest-contract/some/prefix'));
    // At a bucket's root too; a bucket that does not exist is named in the error.
    await s3.bucket('digest-contract-root');
    await contract(openStore('s3://digest-contract-root'));
    await expect(openStore('s3://no-such-bucket/x').put('a', bytes('a'))).rejects.toThrow(/s3:\/\/no-such-bucket\/x\/a: bucket no-such-bucket does not exist/);
    // A body of 3 parts goes up as a multipart upload read part by part (S3's parts are 5 MiB at least).
    await piecesContract(openStore('s3://digest-contract/pieces'), (11 << 20) + 12345, 5 << 20);
  });
  it('gs:// against the GCS JSON API test server', async () => {
    expect(gcsReady).toBe(true);
    await contract(openStore('gs://bucket/some/layer'));
    // Objects sit under the URL's prefix, and gzip ones are stored compressed with contentEncoding.
    const stored = server.buckets.get('bucket')!;
    expect([...stored.keys()].sort()).toEqual(['some/layer/a/two', 'some/layer/b/three']);
    const two = stored.get('some/layer/a/two')!;
    expect(two.contentEncoding).toBe('gzip');
    expect(gunzipSync(two.data).toString()).toBe('second '.repeat(100));
    // 70 pieces: composed 32, then 31 more onto that, then the last 7; the pieces are deleted.
    const before = server.composed;
    await piecesContract(openStore('gs://bucket/pieces'), 70 * 1000 - 1, 1000);
    expect(server.composed - before).toBe(3);
  });
});

describe('file:// specifics', () => {
  it('writes atomically through a temp file and keeps gzip objects as key.gz', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'digest-store-'));
    const store = openStore(dir);
    await store.put('s/chunk', bytes('x'.repeat(1000)), { gzip: true });
    expect(await readdir(join(dir, 's'))).toEqual(['chunk.gz']); // no temp file left, no plain twin
    expect(gunzipSync(await readFile(join(dir, 's', 'chunk.gz'))).toString()).toBe('x'.repeat(1000));
    await store.put('s/chunk', bytes('plain'));
    expect(await readdir(join(dir, 's'))).toEqual(['chunk']);
  });

  it('writes again into a directory removed after its first write', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'digest-store-'));
    const store = openStore(dir);
    await store.put('a/b/one', bytes('1'));
    const { rm } = await import('node:fs/promises');
    await rm(join(dir, 'a'), { recursive: true });
    await store.put('a/b/two', bytes('2'), { gzip: true });
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['two.gz']);
  });

  it('names the file when a gzip object is corrupt', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'digest-store-'));
    const { writeFile, mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 's'));
    await writeFile(join(dir, 's', 'bad.gz'), 'not gzip');
    await expect(openStore(dir).get('s/bad')).rejects.toThrow(/s\/bad\.gz: corrupt gzip data/);
  });
});

describe('gs:// specifics', () => {
  it('retries a request that failed with 503', async () => {
    const store = openStore('gs://retry/x');
    await store.put('k', bytes('v'));
    server.failNext = 1;
    expect(text(await store.get('k'))).toBe('v');
    expect(server.failNext).toBe(0);
  });

  it('lists across pages', async () => {
    const store = openStore('gs://paged');
    const keys = Array.from({ length: 1203 }, (_, i) => `k/${String(i).padStart(5, '0')}`);
    await Promise.all(keys.map((k) => store.put(k, bytes(k))));
    expect(await listAll(store, 'k/')).toEqual(keys);
  });
});

describe('mem://', () => {
  it('shares data between opens of one URL and stores gzip compressed', async () => {
    await openStore('mem://shared').put('k', bytes('y'.repeat(5000)), { gzip: true });
    const again = openStore('mem://shared') as MemStore;
    expect(text(await again.get('k'))).toBe('y'.repeat(5000));
    expect(again.storedSize('k')).toBeLessThan(100);
  });
});
