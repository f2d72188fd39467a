// s3:// through a proxy that injects faults in front of moto's S3 server: every fault, once, on
// every kind of request, is retried to the same result; a fault that does not go away fails naming
// the object; a corrupt answer is caught by its checksum; nothing is ever half-written. The demo
// pipeline with its layers on s3:// through random faults writes what it writes on file://.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemo } from '../demo/demo.js';
import { openStore } from '../storage/open.js';
import { runTask } from '../tasks/registry.js';
import { configureStorage } from '../storage/options.js';
import { listAll } from '../storage/store.js';
import { Fault, FaultProxy, faultProxy, FaultRequest } from './fault-proxy.js';
import { S3Server, s3Server } from './s3-server.js';

let s3: S3Server | undefined;
let proxy: FaultProxy;
/**
 * Short delays, and a stall timeout of 3 s: short enough that the stall tests take seconds, long
 * enough that a loaded machine's slow answer (a 5 MiB part into moto) is not taken for one (and
 * would only be retried if it were).
 */
const FAST = { retryDelayMs: 10, timeoutMs: 3000, retries: 4 };

beforeAll(async () => {
  s3 = await s3Server();
  if (!s3) return;
  proxy = await faultProxy(s3.endpoint);
  configureStorage({ s3Endpoint: proxy.endpoint, ...FAST });
  await s3.bucket('digest-faults');
});
afterAll(() => {
  proxy?.stop();
  s3?.stop();
  configureStorage({});
});

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + (i >> 5)) & 255);

/** Injects `fault` into the first request `matches` picks, and only that one. */
function once(fault: Fault, matches: (r: FaultRequest) => boolean): void {
  let armed = true;
  proxy.fault = (r) => {
    if (!armed || !matches(r)) return undefined;
    armed = false;
    return fault;
  };
}

const isGet = (r: FaultRequest) => r.method === 'GET' && !r.url.includes('list-type') && !r.headers.range;
const isRange = (r: FaultRequest) => r.method === 'GET' && !!r.headers.range;
const isPut = (r: FaultRequest) => r.method === 'PUT';
const isHead = (r: FaultRequest) => r.method === 'HEAD';
const isList = (r: FaultRequest) => r.method === 'GET' && r.url.includes('list-type');

describe('s3:// under faults', () => {
  const faults: Fault[] = ['slowdown', 'internal', 'drop', 'lost-answer', 'stall', 'truncate', 'corrupt'];
  for (const fault of faults)
    it(`${fault}, once, on a get, a ranged get, a put, a head and a listing: the same result`, async (ctx) => {
      if (!s3) return ctx.skip();
      const store = openStore(`s3://digest-faults/${fault}`);
      const data = bytes(50_000, faults.indexOf(fault));
      const before = proxy.injected.length;
      once(fault, isPut);
      await store.put('k/object', data);
      once(fault, isPut);
      await store.put('k/gzipped', data, { gzip: true });
      once(fault, isGet);
      expect(await store.get('k/object')).toEqual(data);
      once(fault, isGet);
      expect(await store.get('k/gzipped')).toEqual(data);
      // A range has no checksum to check (S3 gives checksums of whole objects only): a flipped byte in one is not caught here.
      if (fault !== 'corrupt') once(fault, isRange);
      expect(await store.getRange('k/object', 1000, 20_000)).toEqual(data.subarray(1000, 21_000));
      once(fault, isHead);
      expect(await store.size('k/object')).toBe(data.length);
      once(fault, isList);
      expect(await listAll(store)).toEqual(['k/gzipped', 'k/object']);
      expect(proxy.injected.length - before).toBe(fault === 'corrupt' ? 6 : 7);
      proxy.fault = () => undefined;
    });

  it('an upload changed on its way: S3 refuses it (BadDigest) and it is sent again; bytes stored wrong fail every read as corrupt', async (ctx) => {
    if (!s3) return ctx.skip();
    const store = openStore('s3://digest-faults/digest');
    const data = bytes(10_000, 9);
    once('bad-digest', isPut);
    await store.put('k', data);
    expect(proxy.injected.some((i) => i.startsWith('bad-digest PUT /digest-faults/digest/k'))).toBe(true);
    expect(await store.get('k')).toEqual(data);
    // moto, unlike S3, keeps a changed upload; its checksum (the SDK's CRC32 of what was sent) then fails every whole read.
    once('corrupt-upload', isPut);
    await store.put('stored-wrong', data);
    await expect(store.get('stored-wrong')).rejects.toMatchObject({
      kind: 'corrupt',
      message: expect.stringMatching(/^s3:\/\/digest-faults\/digest\/stored-wrong: .*Checksum mismatch.*\(after 5 attempts\)/),
    });
  });

  it('a big object goes up in parts, a failed part is sent again alone, a failed upload leaves nothing', async (ctx) => {
    if (!s3) return ctx.skip();
    const store = openStore('s3://digest-faults/parts');
    const data = bytes(12 << 20, 5);
    const isPart = (r: FaultRequest) => isPut(r) && r.url.includes('partNumber=');
    configureStorage({ s3Endpoint: proxy.endpoint, ...FAST, partBytes: 5 << 20 });
    try {
      const before = proxy.requests;
      let parts = 0;
      proxy.fault = (r) => (isPart(r) && ++parts === 2 ? 'drop' : undefined);
      await store.put('shard', data);
      expect(parts).toBe(4); // 5 + 5 + 2 MiB, the second sent twice
      expect(proxy.requests - before).toBe(6); // create, 4 parts, complete
      expect(Buffer.from((await store.get('shard'))!).equals(data)).toBe(true);
      // Our CRC32 catches a flipped byte in a multipart object (whose S3 checksum is one of its parts').
      once('corrupt', isGet);
      expect(Buffer.from((await store.get('shard'))!).equals(data)).toBe(true);
      // A part that always fails: the put fails naming the part, the upload is aborted, no object appears.
      proxy.fault = (r) => (isPart(r) && r.url.includes('partNumber=3') ? 'internal' : undefined);
      configureStorage({ s3Endpoint: proxy.endpoint, ...FAST, retries: 1, partBytes: 5 << 20 });
      await expect(store.put('never', data)).rejects.toThrow(/s3:\/\/digest-faults\/parts\/never \(part 3 of 3\): 500 InternalError \(after 2 attempts\)/);
      proxy.fault = () => undefined;
      expect(await store.exists('never')).toBe(false);
      const { S3Client, ListMultipartUploadsCommand } = await import('@aws-sdk/client-s3');
      const uploads = await new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' }).send(
        new ListMultipartUploadsCommand({ Bucket: 'digest-faults', Prefix: 'parts/' }),
      );
      expect(uploads.Uploads ?? []).toEqual([]);
    } finally {
      proxy.fault = () => undefined;
      configureStorage({ s3Endpoint: proxy.endpoint, ...FAST });
    }
  });

  it('a fault that does not go away fails naming the object and the attempts; a put leaves nothing', async (ctx) => {
    if (!s3) return ctx.skip();
    const store = openStore('s3://digest-faults/always');
    configureStorage({ s3Endpoint: proxy.endpoint, ...FAST, retries: 2 });
    try {
      proxy.fault = (r) => (isPut(r) ? 'drop' : undefined);
      await expect(store.put('never', bytes(1000, 1))).rejects.toThrow(/s3:\/\/digest-faults\/always\/never: .*\(after 3 attempts\)/);
      proxy.fault = () => undefined;
      expect(await store.get('never')).toBeNull();
      await store.put('there', bytes(1000, 2));
      proxy.fault = (r) => (isGet(r) ? 'slowdown' : undefined);
      await expect(store.get('there')).rejects.toThrow(/s3:\/\/digest-faults\/always\/there: 503 SlowDown.*\(after 3 attempts\)/);
      proxy.fault = (r) => (isGet(r) ? 'stall' : undefined);
      await expect(store.get('there')).rejects.toThrow(/s3:\/\/digest-faults\/always\/there: no answer for 3 s \(after 3 attempts\)/);
      // The same wrong bytes every time: the object, not the network, is what is wrong.
      proxy.fault = (r) => (isGet(r) ? 'corrupt' : undefined);
      await expect(store.get('there')).rejects.toMatchObject({ kind: 'corrupt', message: expect.stringMatching(/s3:\/\/digest-faults\/always\/there/) });
    } finally {
      proxy.fault = () => undefined;
      configureStorage({ s3Endpoint: proxy.endpoint, ...FAST });
    }
  });
});

/**
 * A fault for about one request in `1 / rate` (a seeded generator picks which), of a kind the
 * request can meet, the kinds taken in turn so that each comes up.
 */
function randomFaults(rate: number, seed: number): (r: FaultRequest) => Fault | undefined {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const common: Fault[] = ['slowdown', 'internal', 'drop', 'lost-answer', 'stall', 'truncate'];
  // A flipped byte is caught only where there is a checksum: whole objects (ranges and listings have none).
  const kinds = { get: [...common, 'corrupt'], put: [...common, 'bad-digest'], other: common } as Record<string, Fault[]>;
  const turns: Record<string, number> = { get: 0, put: 0, other: 0 };
  return (r) => {
    if (next() >= rate) return undefined;
    const which = isGet(r) ? 'get' : isPut(r) ? 'put' : 'other';
    return kinds[which][turns[which]++ % kinds[which].length];
  };
}

describe('the demo on s3://', () => {
  it('with one request in 25 failing (every kind of fault) writes the bytes it writes on file://', async (ctx) => {
    if (!s3) return ctx.skip();
    /** The demo at a small size, its build chunks in a new directory, its layers at `layers` (default: beside them). */
    const demo = async (layers?: string) =>
      runDemo({
        size: [96, 80, 48],
        buildSize: [64, 64, 32],
        chunkSize: [32, 32, 16],
        execute: runTask,
        concurrency: 4,
        progress: false,
        out: await mkdtemp(join(tmpdir(), 'digest-demo-')),
        layers,
      });
    const local = await demo();
    expect(local.summary.dead).toEqual([]);
    // A stall costs the timeout, 4 s; a loaded machine's answer slower than that is only tried again (up to 6 times).
    configureStorage({ s3Endpoint: proxy.endpoint, retryDelayMs: 10, timeoutMs: 4000, retries: 6 });
    const before = proxy.injected.length,
      requests = proxy.requests;
    proxy.fault = randomFaults(1 / 25, 2026);
    try {
      const remote = await demo('s3://digest-faults/demo/layers');
      expect(remote.summary.dead).toEqual([]);
    } finally {
      proxy.fault = () => undefined;
      configureStorage({ s3Endpoint: proxy.endpoint, ...FAST });
    }
    const injected = proxy.injected.slice(before);
    console.log(`demo on s3://: ${proxy.requests - requests} requests, ${injected.length} faults`);
    for (const kind of ['slowdown', 'internal', 'drop', 'lost-answer', 'stall', 'truncate', 'corrupt', 'bad-digest'])
      expect(
        injected.some((i) => i.startsWith(`${kind} `)),
        `${kind} injected`,
      ).toBe(true);
    const a = openStore(local.imageLayer.replace(/\/image$/, '')),
      b = openStore('s3://digest-faults/demo/layers');
    const keys = await listAll(a);
    expect(keys.length).toBeGreaterThan(300);
    expect(await listAll(b)).toEqual(keys);
    for (const key of keys) {
      const [want, got] = await Promise.all([a.getStored(key), b.getStored(key)]);
      expect(got?.gzip, key).toBe(want!.gzip);
      expect(Buffer.from(got!.body).equals(want!.body), key).toBe(true); // (toEqual takes seconds a megabyte)
    }
  });
});
