import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { box, chunkKey } from '../common/box.js';
import { allChunks, createInfo } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { clearPrefetched, setPrefetched } from '../storage/prefetched.js';
import { taskInputs as inputsOf } from '../tasks/registry.js';
import { prefetchInputs } from './prefetch.js';

const taskInputs = async (task: Parameters<typeof inputsOf>[0]) => (await inputsOf(task, Volume.open)).map(({ storeUrl, key }) => ({ storeUrl, key }));

describe('prefetching', () => {
  it('lists exactly the chunks a task reads, fetches them, and the task thread reads them from memory once', async () => {
    const url = `file://${await mkdtemp(join(tmpdir(), 'digest-prefetch-'))}`;
    const volume = await Volume.create(
      url,
      createInfo({ type: 'segmentation', dataType: 'uint32', encoding: 'raw', size: [40, 40, 20], chunkSize: [16, 16, 8], resolution: [4, 4, 40] }),
    );
    const data = Uint32Array.from({ length: 40 * 40 * 20 }, (_, i) => (i % 7) + 1);
    await volume.writeChunks(0, allChunks(volume.scale(0)), data, box([0, 0, 0], [40, 40, 20]));

    // Downsample of mip-1 chunk 16-20_16-20_8-10: its children are mip-0 x 32-40, y 32-40, z 16-20: one chunk.
    const downsample = { kind: 'downsample', chunk_path: '8_8_80/16-20_16-20_8-10', layer_path: url } as const;
    expect(await taskInputs(downsample)).toEqual([{ storeUrl: url, key: '4_4_40/32-40_32-40_16-20' }]);
    // Mip-1 chunk 0-16_0-16_0-8: children mip-0 0-32 x 0-32 x 0-16, 2 x 2 x 2 chunks.
    const first = { kind: 'downsample', chunk_path: '8_8_80/0-16_0-16_0-8', layer_path: url } as const;
    const eight = [
      '0-16_0-16_0-8',
      '0-16_0-16_8-16',
      '0-16_16-32_0-8',
      '0-16_16-32_8-16',
      '16-32_0-16_0-8',
      '16-32_0-16_8-16',
      '16-32_16-32_0-8',
      '16-32_16-32_8-16',
    ].map((k) => `4_4_40/${k}`);
    expect((await taskInputs(first)).map((o) => o.key).sort()).toEqual(eight);
    // Mesh of chunk 16-32_16-32_0-8: its voxels and one into the upper neighbours: 2 x 2 x 2 chunks.
    await volume.store.put('info', new TextEncoder().encode(JSON.stringify({ ...volume.info, mesh: 'mesh' })));
    const mesh = { kind: 'mesh', chunk_key: '4_4_40', chunk_position: '16-32_16-32_0-8', layer_path: url } as const;
    expect((await taskInputs(mesh)).map((o) => o.key).sort()).toEqual(
      [
        '16-32_16-32_0-8',
        '16-32_16-32_8-16',
        '16-32_32-40_0-8',
        '16-32_32-40_8-16',
        '32-40_16-32_0-8',
        '32-40_16-32_8-16',
        '32-40_32-40_0-8',
        '32-40_32-40_8-16',
      ].map((k) => `4_4_40/${k}`),
    );

    const fetched = await prefetchInputs(first);
    expect(fetched.map((f) => f.url).sort()).toEqual(eight.map((k) => `${url}/${k}`));
    for (const f of fetched) expect(f.bytes).toEqual(await volume.store.get(f.url.slice(url.length + 1)));

    // Served from memory (here: altered bytes, to tell them apart), once; then from storage again.
    const chunk = box([0, 0, 0], [16, 16, 8]);
    const own = fetched.find((f) => f.url.endsWith('/4_4_40/0-16_0-16_0-8'))!;
    setPrefetched([{ url: own.url, bytes: new Uint8Array(own.bytes.length) }]);
    try {
      expect(new Set(Array.from((await volume.readChunk(0, chunk)) as Uint32Array))).toEqual(new Set([0]));
      expect(new Set(Array.from((await volume.readChunk(0, chunk)) as Uint32Array))).not.toEqual(new Set([0]));
    } finally {
      clearPrefetched();
    }
    expect(chunkKey(chunk)).toBe('0-16_0-16_0-8');
    // A task that cannot be worked out prefetches nothing (the task itself reports the error).
    expect(await prefetchInputs({ kind: 'downsample', chunk_path: '8_8_80/3-8_0-8_0-4', layer_path: url })).toEqual([]);
  });
});
