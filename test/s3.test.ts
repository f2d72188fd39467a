// Layers on s3:// against moto's S3 server: a layer copied to a sharded s3:// layer and back is the
// same bytes, its shards read back by range; a plan runs with its layer on s3://; from the command
// line, `digest upload` puts a layer there as stored and a layer over http:// is transferred into a
// sharded s3:// copy.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Volume } from '../precomputed/volume.js';
import { serveDirectory } from '../server/files.js';
import { runDigest, tmpDir } from './cli.js';
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

describe('digest upload and plan transfer with s3://', () => {
  it('uploads a gzip-chunked layer as stored, and transfers a layer over http:// into a sharded s3:// one', async (ctx) => {
    if (!s3) return ctx.skip();
    const dir = await tmpDir('s3-cli');
    const disk = `file://${join(dir, 'em')}`;
    const { volume } = await smallImageLayer(disk, { gzip: { level: 6, strategy: 'default' } });
    const endpoint = ['--s3-endpoint', s3.endpoint];
    const up = await runDigest(['upload', disk, 's3://digest-layers/uploaded', ...endpoint]);
    expect(up.stderr, up.stderr).toMatch(/copied \d+ objects \(\d+ gzip-encoded\)/);
    const [a, b] = [openStore(disk), openStore('s3://digest-layers/uploaded')];
    const keys = await listAll(a);
    expect(await listAll(b)).toEqual(keys);
    for (const k of keys) expect(await b.getStored(k), k).toEqual(await a.getStored(k)); // gzip ones stay gzip, byte for byte

    const server = await serveDirectory(dir, 0);
    try {
      const from = `http://127.0.0.1:${(server.address() as { port: number }).port}/em`;
      const plan = join(dir, 'transfer.json');
      const planned = await runDigest([
        'plan',
        'transfer',
        '--from',
        from,
        '--to',
        's3://digest-layers/from-http',
        '--sharded',
        '--shard-mib',
        '1',
        '--out',
        plan,
        ...endpoint,
      ]);
      expect(planned.code, planned.stderr).toBe(0);
      const ran = await runDigest(['run', plan, '--local', '--threads', '2', ...endpoint]);
      expect(ran.code, ran.stderr).toBe(0);
    } finally {
      server.close();
    }
    const copy = await Volume.open('s3://digest-layers/from-http');
    expect(copy.info.scales.every((s) => s.sharding)).toBe(true);
    for (let mip = 0; mip < volume.info.scales.length; mip++)
      expect(Array.from((await copy.read(mip, copy.bounds(mip))) as Uint8Array), `mip ${mip}`).toEqual(
        Array.from((await volume.read(mip, volume.bounds(mip))) as Uint8Array),
      );
  });
});
