// Layers on s3:// against moto's S3 server: a layer copied to a sharded s3:// layer and back is the
// same bytes, its shards read back by range; a plan runs with its layer on s3://.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPlan } from '../queue/local/run.js';
import { openStore } from '../storage/open.js';
import { configureStorage } from '../storage/options.js';
import { listAll } from '../storage/store.js';
import { planTransfer } from '../tasks/plan/planners.js';
import { runTask } from '../tasks/registry.js';
import { referencePyramid } from './reference.js';
import { smallImageLayer } from './small-layer.js';
import { S3Server, s3Server } from './s3-server.js';

let s3: S3Server | undefined;
beforeAll(async () => {
  s3 = await s3Server();
  if (s3) {
    configureStorage({ s3Endpoint: s3.endpoint, retryDelayMs: 20 });
    await s3.bucket('digest-layers');
  }
});
afterAll(() => {
  s3?.stop();
  configureStorage({});
});

describe('layers on s3://', () => {
  it('a downsample plan runs on s3://; copied into sharded s3:// and back it is the same bytes', async (ctx) => {
    if (!s3) return ctx.skip();
    const layer = 's3://digest-layers/em';
    const { volume, values } = await smallImageLayer(layer);
    const want = referencePyramid(volume.info, values);
    for (let mip = 0; mip < 3; mip++) expect(Array.from((await volume.read(mip, volume.bounds(mip))) as Uint8Array), `mip ${mip}`).toEqual(want[mip]);

    const sharded = 's3://digest-layers/em-sharded',
      back = 'mem://s3-back';
    const there = await planTransfer({ from: layer, to: sharded, sharding: { targetBytes: 8 * 8 * 4 * 8 } });
    expect((await runPlan(there, runTask, { concurrency: 2, progress: false })).dead).toEqual([]);
    expect((await listAll(openStore(sharded))).filter((k) => k !== 'info').every((k) => k.endsWith('.shard'))).toBe(true);
    const again = await planTransfer({ from: sharded, to: back, sharding: 'unsharded' });
    expect((await runPlan(again, runTask, { concurrency: 2, progress: false })).dead).toEqual([]);
    const a = openStore(layer),
      c = openStore(back);
    const keys = (await listAll(a)).filter((k) => k !== 'info');
    expect(await listAll(c)).toEqual(await listAll(a));
    for (const k of keys) expect(await c.get(k), k).toEqual(await a.get(k));
  });
});
