// The pool's threads read a layer's info once per stage (scope), not once per task; a task with no
// scope (digest task) reads it itself; a new stage reads it again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { box } from '../common/box.js';
import { allChunks, createInfo } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { configureStorage, DEFAULT_STORAGE } from '../storage/options.js';
import { GcsTestServer } from '../test/gcs-server.js';
import { DEFAULT_CONFIG } from './config.js';
import { createTaskPool } from './pool.js';

const gcs = new GcsTestServer();
let endpoint = '';
beforeAll(async () => {
  endpoint = await gcs.start();
  configureStorage({ gcsEndpoint: endpoint, retryDelayMs: 20 });
});
afterAll(async () => {
  configureStorage(DEFAULT_STORAGE);
  await gcs.stop();
});

describe('task pool', () => {
  it('reads each layer info once per scope in a thread', async () => {
    const layer = 'gs://scoped/em';
    const volume = await Volume.create(
      layer,
      createInfo({
        type: 'image',
        dataType: 'uint8',
        encoding: 'raw',
        size: [64, 64, 16],
        resolution: [8, 8, 8],
        chunkSize: [16, 16, 16],
        mips: 2,
        factor: [2, 2, 1],
      }),
    );
    await volume.writeChunks(0, allChunks(volume.scale(0)), new Uint8Array(64 * 64 * 16).fill(3), box([0, 0, 0], [64, 64, 16]));
    let infoReads = 0;
    gcs.hang = (r) => {
      if (r.startsWith('GET') && r.includes('em%2Finfo')) infoReads++;
      return false;
    };
    const pool = createTaskPool({ ...DEFAULT_CONFIG, threads: 1, backend: 'cpu', storage: { ...DEFAULT_STORAGE, gcsEndpoint: endpoint } });
    try {
      const tasks = [0, 32].flatMap((x) =>
        [0, 32].map((y) => ({ kind: 'downsample' as const, chunk_path: `16_16_8/${x / 2}-${x / 2 + 16}_${y / 2}-${y / 2 + 16}_0-16`, layer_path: layer })),
      );
      pool.beginScope('plan#0');
      for (const t of tasks) await pool.run(t);
      expect(infoReads).toBe(1);
      pool.beginScope('plan#1');
      for (const t of tasks) await pool.run(t);
      expect(infoReads).toBe(2);
      pool.beginScope(undefined);
      for (const t of tasks) await pool.run(t);
      expect(infoReads).toBe(2 + tasks.length);
    } finally {
      gcs.hang = () => false;
      await pool.close();
    }
  });
});
