// Layers over http:// (read-only), served by digest's own file server (key.gz as key with
// Content-Encoding: gzip, byte ranges for plain objects): every mip of a gzip-chunked layer and of a
// sharded one (read by range) equals the layer on disk; writes and listings are refused naming the scheme.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Volume } from '../precomputed/volume.js';
import { runPlan } from '../queue/local/run.js';
import { serveDirectory } from '../server/files.js';
import { openStore } from '../storage/open.js';
import { listAll } from '../storage/store.js';
import { planTransfer } from '../tasks/plan/planners.js';
import { runTask } from '../tasks/registry.js';
import { smallImageLayer } from './small-layer.js';

let dir = '';
let server: Server;
let base = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'digest-http-'));
  server = await serveDirectory(dir, 0);
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('layers over http://, read-only', () => {
  it('reads every mip of a gzip-chunked layer and of a sharded copy (by range) as on disk; refuses writes and listings', async () => {
    const disk = `file://${join(dir, 'em')}`;
    const { volume } = await smallImageLayer(disk, { gzip: { level: 6, strategy: 'default' } });
    const info = volume.info;
    const sharded = `file://${join(dir, 'em-sharded')}`;
    expect(
      (await runPlan(await planTransfer({ from: disk, to: sharded, sharding: { targetBytes: 8 * 8 * 4 * 8 } }), runTask, { concurrency: 2, progress: false }))
        .dead,
    ).toEqual([]);
    expect((await readdir(join(dir, 'em', info.scales[0].key))).every((f) => f.endsWith('.gz'))).toBe(true); // served with Content-Encoding: gzip

    for (const [local, remote] of [
      [disk, `${base}/em`],
      [sharded, `${base}/em-sharded`],
    ]) {
      const want = await Volume.open(local);
      const got = await Volume.open(remote);
      expect(got.info).toEqual(want.info);
      for (let mip = 0; mip < want.info.scales.length; mip++)
        expect(Array.from((await got.read(mip, got.bounds(mip))) as Uint8Array), `${remote} mip ${mip}`).toEqual(
          Array.from((await want.read(mip, want.bounds(mip))) as Uint8Array),
        );
    }
    // A transfer from http:// into another store: the same chunks.
    const copy = 'mem://http-copy';
    expect(
      (await runPlan(await planTransfer({ from: `${base}/em-sharded`, to: copy, sharding: 'unsharded' }), runTask, { concurrency: 2, progress: false })).dead,
    ).toEqual([]);
    for (let mip = 0; mip < 3; mip++) {
      const a = await Volume.open(copy);
      expect(Array.from((await a.read(mip, a.bounds(mip))) as Uint8Array)).toEqual(Array.from((await volume.read(mip, volume.bounds(mip))) as Uint8Array));
    }

    const store = openStore(`${base}/em`);
    expect(await store.get('no-such-key')).toBeNull();
    expect(await store.size('info')).toBeGreaterThan(10);
    await expect(store.put('x', new Uint8Array(1))).rejects.toThrow(/\/em\/x: http:\/\/ is read-only/);
    await expect(listAll(store)).rejects.toThrow(/http:\/\/ cannot be listed/);
  });
});
