// Shards larger than a task may hold: past spillAboveBytes a shard writer's chunks wait in a local
// spill file and the shard goes up from it a part at a time (file://, s3:// multipart, gs://
// composed pieces). The shards equal those written from memory byte for byte, the independent
// reader reads every chunk of them, and no spill outlives its writer, a failed one included.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allChunks, createInfo, scaleBounds } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { runPlan } from '../queue/local/run.js';
import { configureStorage, StorageOptions } from '../storage/options.js';
import { openStore } from '../storage/open.js';
import { listAll } from '../storage/store.js';
import { planDownsample } from '../tasks/plan/planners.js';
import { runTask } from '../tasks/registry.js';
import { GcsTestServer } from './gcs-server.js';
import { S3Server, s3Server } from './s3-server.js';
import { chunkFromShardFile, mortonCode } from './sharded-reader.js';

const gcs = new GcsTestServer();
let s3: S3Server | undefined;
let base: Partial<StorageOptions> = {};

beforeAll(async () => {
  s3 = await s3Server();
  await s3?.bucket('digest-spill');
  base = { gcsEndpoint: await gcs.start(), s3Endpoint: s3?.endpoint, retryDelayMs: 20 };
  configureStorage(base);
});
afterAll(async () => {
  configureStorage({});
  await gcs.stop();
  s3?.stop();
});

// 256x256x96 uint8 of random voxels (gzip keeps them: the worst case), 64x64x32 chunks; mip 0 one
// shard of 48 chunks (6 MiB, two 5 MiB S3 parts), mip 1 made by a downsample plan.
const SIZE: [number, number, number] = [256, 256, 96];
const values = new Uint8Array(randomBytes(SIZE[0] * SIZE[1] * SIZE[2]));

async function writeLayer(url: string): Promise<Volume> {
  const info = createInfo({
    type: 'image',
    dataType: 'uint8',
    encoding: 'raw',
    size: SIZE,
    resolution: [4, 4, 40],
    chunkSize: [64, 64, 32],
    factors: [[2, 2, 1]],
    mips: 2,
    sharding: { targetBytes: 64 << 20 },
  });
  const volume = await Volume.create(url, info);
  await volume.writeChunks(0, allChunks(volume.scale(0)), values, scaleBounds(volume.scale(0)));
  const { dead } = await runPlan(await planDownsample({ layerPath: url }), runTask, { concurrency: 2, progress: false });
  if (dead.length) throw new Error(`downsample of ${url}: ${dead[0].error}`);
  return volume;
}

/** Open spill files of this process (unlinked at open: /proc shows them as deleted links). */
async function openSpills(): Promise<number> {
  let n = 0;
  for (const fd of await readdir('/proc/self/fd')) if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')).includes('digest-spill-')) n++;
  return n;
}

async function expectSameObjects(spilledUrl: string, heldUrl: string): Promise<void> {
  const spilled = openStore(spilledUrl),
    held = openStore(heldUrl);
  const keys = await listAll(held);
  expect(await listAll(spilled)).toEqual(keys);
  expect(keys.filter((k) => k.endsWith('.shard')).length).toBeGreaterThanOrEqual(2);
  for (const key of keys) expect(Buffer.from((await spilled.getStored(key))!.body).equals(Buffer.from((await held.getStored(key))!.body)), key).toBe(true);
}

describe('shards spilled to local disk', () => {
  const stores: [string, () => string | undefined, number][] = [
    ['file://', () => `file://${join(tmpdir(), `digest-spilled-layer-${process.pid}`)}`, 1 << 20],
    ["s3:// (moto's server)", () => (s3 ? 's3://digest-spill/layer' : undefined), 5 << 20],
    ['gs:// (the GCS test server)', () => 'gs://spill/layer', 256 << 10],
  ];
  for (const [name, url, partBytes] of stores) {
    it(`${name}: the same bytes as shards written from memory, every chunk read back`, async (ctx) => {
      const spilledUrl = url();
      if (!spilledUrl) return ctx.skip();
      const heldUrl = `mem://spill-held-${name.replace(/\W/g, '')}`;
      configureStorage(base);
      await writeLayer(heldUrl);
      const spillDir = await mkdtemp(join(tmpdir(), 'digest-spills-'));
      const composed = gcs.composed;
      // 100 KiB held at most: most of each shard waits in the spill.
      configureStorage({ ...base, spillAboveBytes: 100 << 10, partBytes, spillDir });
      try {
        const volume = await writeLayer(spilledUrl);
        expect(await openSpills()).toBe(0);
        expect(await readdir(spillDir)).toEqual([]); // unlinked as soon as opened
        if (name.startsWith('gs')) expect(gcs.composed - composed).toBeGreaterThan(0);
        expect(Buffer.from((await volume.read(0, scaleBounds(volume.scale(0)))) as Uint8Array).equals(Buffer.from(values))).toBe(true);
        await expectSameObjects(spilledUrl, heldUrl);
        // The independent reader (test/sharded-reader.ts) finds every chunk of mip 0 in its shard.
        const scale = volume.scale(0);
        const shard = (await openStore(spilledUrl).get(`${scale.key}/0.shard`))!;
        const grid = [4, 4, 3];
        for (let z = 0; z < 3; z++)
          for (let y = 0; y < 4; y++)
            for (let x = 0; x < 4; x++) {
              const chunk = chunkFromShardFile(shard, mortonCode([x, y, z], grid), scale.sharding!)!;
              expect(chunk[0]).toBe(values[x * 64 + y * 64 * 256 + z * 32 * 256 * 256]);
              expect(chunk.length).toBe(64 * 64 * 32);
            }
      } finally {
        configureStorage(base);
      }
    });
  }

  it('a writer that fails before its shard is whole releases its spill and writes nothing', async () => {
    const url = 'mem://spill-failed';
    configureStorage(base);
    const volume = await Volume.create(
      url,
      createInfo({
        type: 'image',
        dataType: 'uint8',
        encoding: 'raw',
        size: SIZE,
        resolution: [4, 4, 40],
        chunkSize: [64, 64, 32],
        sharding: { targetBytes: 64 << 20 },
      }),
    );
    configureStorage({ ...base, spillAboveBytes: 0 });
    try {
      const writer = volume.slabWriter(0);
      const slab = { start: [0, 0, 0] as [number, number, number], stop: [256, 256, 32] as [number, number, number] };
      await writer.add(
        allChunks(volume.scale(0)).filter((c) => c.start[2] === 0),
        values.subarray(0, 256 * 256 * 32),
        slab,
      );
      expect(await openSpills()).toBe(1);
      await writer.release();
      expect(await openSpills()).toBe(0);
      expect(await listAll(openStore(url))).toEqual(['info']);
    } finally {
      configureStorage(base);
    }
  });
});
