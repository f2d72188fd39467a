import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listAll } from '../storage/store.js';
import { describe, expect, it } from 'vitest';
import { box } from '../common/box.js';
import { allChunks, scaleBounds } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { listPlan, Plan } from '../tasks/plan/planners.js';
import { DownsampleTask } from '../tasks/downsample.js';
import { TaskResult } from '../tasks/kind.js';
import { Task, taskId } from '../tasks/registry.js';
import { closeGpu } from '../kernels/gpu/device.js';
import { gpuKernelsForTests } from './gpu.js';
import { referencePyramid } from './reference.js';
import { runDemo } from '../demo/demo.js';
import { LocalQueue } from '../queue/local/queue.js';
import { DEFAULT_CONFIG } from '../runtime/config.js';
import { createTaskPool } from '../runtime/pool.js';
import { runPlan } from '../queue/local/run.js';
import { synthesize } from '../demo/synthetic.js';
import { runDigest } from './cli.js';
import { meshedSegments } from './multires-reader.js';

// Whether a WebGPU adapter opens here (then released: the workers open their own).
const gpuHere = (await gpuKernelsForTests()) !== undefined;
await closeGpu();

async function readTree(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) files.set(join(entry.parentPath, entry.name).slice(dir.length), await readFile(join(entry.parentPath, entry.name)));
  }
  return files;
}

const task = (i: number): DownsampleTask => ({ kind: 'downsample', chunk_path: `s/${i}-${i + 1}_0-1_0-1`, layer_path: 'mem://x' });
const ok = (t: Task): TaskResult => ({ kind: t.kind, voxels: 8, chunksWritten: 1 });

describe('local queue', () => {
  it('retries a failed task with backoff and sets it aside after maxAttempts', async () => {
    const queue = LocalQueue.of([task(1), task(2)], { maxAttempts: 2, retryDelayMs: 5 });
    const [a, b] = queue.lease(10);
    expect([a.attempt, b.attempt]).toEqual([1, 1]);
    expect(queue.lease(10)).toEqual([]); // both leased
    queue.ack(a);
    queue.nack(b, new Error('disk full'));
    expect(queue.lease(10)).toEqual([]); // not ready until the backoff passes
    await new Promise((r) => setTimeout(r, 10));
    const [again] = queue.lease(10);
    expect(again.attempt).toBe(2);
    queue.nack(again, new Error('disk full'));
    expect(queue.drained).toBe(true);
    expect(queue.done).toBe(1);
    expect(queue.dead).toEqual([{ index: 1, task: task(2), attempts: 2, error: 'disk full' }]);
  });
});

describe('runPlan', () => {
  it('retries flaky tasks to success and loses none', async () => {
    const failures = new Map<string, number>();
    const seen: string[] = [];
    const flaky = async (t: Task) => {
      const n = failures.get(taskId(t)) ?? 0;
      if (n < 2) {
        failures.set(taskId(t), n + 1);
        throw new Error('transient');
      }
      seen.push(taskId(t));
      return ok(t);
    };
    const tasks = Array.from({ length: 20 }, (_, i) => task(i));
    const summary = await runPlan(listPlan('mem://x', [{ name: 'one', tasks }]), flaky, { concurrency: 3, retryDelayMs: 1, progress: false });
    expect(summary).toMatchObject({ tasks: 20, done: 20, retries: 40, dead: [], voxels: 160 });
    expect(seen.sort()).toEqual(tasks.map(taskId).sort());
  });

  it('stops before the next stage when a task is dead', async () => {
    const ran: string[] = [];
    const plan: Plan = listPlan('mem://x', [
      { name: 'one', tasks: [task(1), task(2)] },
      { name: 'two', tasks: [task(3)] },
    ]);
    const summary = await runPlan(
      plan,
      async (t) => {
        ran.push(taskId(t));
        if (taskId(t) === taskId(task(2))) throw new Error('corrupt chunk');
        return ok(t);
      },
      { concurrency: 2, maxAttempts: 3, retryDelayMs: 1, progress: false },
    );
    expect(summary.done).toBe(1);
    expect(summary.dead).toEqual([{ index: 1, task: task(2), attempts: 3, error: 'corrupt chunk' }]);
    expect(ran).not.toContain(taskId(task(3)));
  });
});

describe('the worker pool runs the demo end to end', () => {
  it('builds both pyramids, equal to the brute-force reference', async () => {
    const out = await mkdtemp(join(tmpdir(), 'digest-demo-'));
    const pool = createTaskPool({ ...DEFAULT_CONFIG, threads: 2 });
    try {
      const result = await runDemo({
        out,
        size: [96, 80, 48],
        buildSize: [64, 64, 32],
        chunkSize: [32, 32, 16],
        execute: (t) => pool.run(t),
        concurrency: 4,
        progress: false,
      });
      expect(result.summary.dead).toEqual([]);
      const whole = synthesize(box([0, 0, 0], [96, 80, 48]));
      for (const [layer, mip0] of [
        [result.imageLayer, whole.image],
        [result.segmentationLayer, whole.labels],
      ] as const) {
        const volume = await Volume.open(layer);
        const want = referencePyramid(volume.info, mip0);
        expect(volume.info.scales.length).toBe(3);
        for (let mip = 0; mip < volume.info.scales.length; mip++) {
          for (const c of allChunks(volume.scale(mip))) expect(await volume.store.exists(volume.chunkPath(mip, c))).toBe(true);
          expect(Array.from((await volume.read(mip, scaleBounds(volume.scale(mip)))) as ArrayLike<number | bigint>)).toEqual(want[mip]);
        }
      }
      // Every segment has a multi-resolution mesh; the watershed layer is complete; the region graph has edges.
      const meshDir = join(result.segmentationLayer.replace(/^file:\/\//, ''), 'mesh');
      expect(await meshedSegments(meshDir)).toEqual(new Set([...whole.labels].filter((l) => l !== 0n)));
      const watershed = await Volume.open(result.watershedLayer);
      for (const c of allChunks(watershed.scale(0))) expect(await watershed.store.exists(watershed.chunkPath(0, c))).toBe(true);
      const graphs = await listAll(watershed.store, 'mean_graph/chunks/');
      expect(graphs.length).toBe(allChunks(watershed.scale(0)).length);
    } finally {
      await pool.close();
    }
  });

  const gpuTest = gpuHere ? it : it.skip;
  gpuTest('writes the same bytes with --backend gpu (each worker opens its own device) as with cpu', async () => {
    const layers: Record<string, Map<string, Buffer>> = {};
    for (const backend of ['cpu', 'gpu']) {
      const out = await mkdtemp(join(tmpdir(), `digest-${backend}-`));
      const pool = createTaskPool({ ...DEFAULT_CONFIG, threads: 2, backend: backend as 'cpu' | 'gpu' });
      try {
        const results: TaskResult[] = [];
        const run = await runDemo({
          out,
          size: [96, 80, 48],
          buildSize: [32, 32, 16],
          chunkSize: [32, 32, 16],
          execute: async (t) => {
            const r = await pool.run(t);
            results.push(r);
            return r;
          },
          concurrency: 4,
          progress: false,
        });
        expect(run.summary.dead).toEqual([]);
        expect(results.some((r) => r.backend === backend)).toBe(true);
      } finally {
        await pool.close();
      }
      layers[backend] = await readTree(join(out, 'layers'));
    }
    expect([...layers.gpu.keys()].sort()).toEqual([...layers.cpu.keys()].sort());
    expect(layers.cpu.size).toBeGreaterThan(50);
    for (const [file, bytes] of layers.cpu) expect(layers.gpu.get(file)!.equals(bytes), file).toBe(true);
  });

  it('passes a task error from the worker thread back with its message', async () => {
    const pool = createTaskPool({ ...DEFAULT_CONFIG, threads: 1 });
    try {
      await expect(pool.run({ kind: 'downsample', chunk_path: 'a/0-1_0-1_0-1', layer_path: join(tmpdir(), 'no-such-layer') })).rejects.toThrow(
        /has no info file/,
      );
    } finally {
      await pool.close();
    }
  });
});

describe('CLI', () => {
  const run = runDigest;

  it('plans and runs a downsample from the command line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'digest-cli-'));
    const layer = `file://${join(dir, 'layer')}`;
    const created = await run([
      'create-layer',
      layer,
      '--type',
      'segmentation',
      '--dtype',
      'uint32',
      '--size',
      '40,40,20',
      '--resolution',
      '4,4,40',
      '--chunk',
      '16,16,16',
      '--mips',
      '2',
    ]);
    expect(created.code).toBe(0);
    const volume = await Volume.open(layer);
    for (const c of allChunks(volume.scale(0)))
      await volume.writeChunk(0, c, new Uint32Array((c.stop[0] - c.start[0]) * (c.stop[1] - c.start[1]) * (c.stop[2] - c.start[2])).fill(7));
    const plan = join(dir, 'plan.json');
    expect((await run(['plan', 'downsample', '--layer', layer, '--out', plan])).code).toBe(0);
    const result = await run(['run', '--local', plan, '--threads', '1']);
    // Mips 1 and 2 from one read: one task per mip-2 chunk (there is one).
    expect(result.stderr).toMatch(/1\/1 tasks done .* 0 failed/);
    expect(result.code).toBe(0);
    const top = await volume.read(2, volume.bounds(2));
    expect(Array.from(top as Uint32Array).every((v) => v === 7)).toBe(true);
  });

  it('exits non-zero with the error for a bad task', async () => {
    const result = await run(['task', '{"kind":"downsample","chunk_path":"x"}']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('digest: Downsample task: layer_path is missing');
  });
});
