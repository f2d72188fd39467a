// Benchmark: Watershed and MeanGraph on a synthetic 256^3 affinity volume (3 x float32): the
// algorithms on the whole volume in one call, and the tasks through the worker pool on file:// storage.
// Prints a markdown block for bench/RESULTS.md.
//   node dist/bench/affinities.js [--size 256] [--chunk 64] [--overlap 8] [--threads N] [--dir /tmp/digest-bench-aff]
import { rm } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chunkGraphs } from '../affinities/mean-graph.js';
import { watershed } from '../affinities/watershed.js';
import { DEMO_WATERSHED } from '../demo/demo.js';
import { availableParallelism } from 'node:os';
import { DEFAULT_CONFIG } from '../runtime/config.js';
import { createTaskPool } from '../runtime/pool.js';
import { parseBackendChoice } from '../kernels/backend.js';
import { runPlan } from '../queue/local/run.js';
import { synthesize, synthesizeAffinities } from '../demo/synthetic.js';
import { box, Vec3 } from '../common/box.js';
import { allChunks, createInfo } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { planMeanGraph, planWatershed } from '../tasks/plan/planners.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string' },
    chunk: { type: 'string' },
    overlap: { type: 'string' },
    threads: { type: 'string' },
    dir: { type: 'string' },
    backend: { type: 'string' },
  },
});
const size = Number(values.size ?? 256);
const chunk = Number(values.chunk ?? 64);
const overlap = Number(values.overlap ?? 8);
const threads = Number(values.threads ?? availableParallelism());
const backend = parseBackendChoice((values.backend as string | undefined) ?? 'auto');
const dir = values.dir ?? '/tmp/digest-bench-aff';
const peakMiB = () => Math.round(process.resourceUsage().maxRSS / 1024);
const params = DEMO_WATERSHED;

async function main(): Promise<void> {
  const lines: string[] = [];
  const say = (s: string) => {
    lines.push(s);
    console.error(s);
  };
  say(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; threads ${threads}, backend ${backend}`,
  );
  const shape: Vec3 = [size, size, size];
  const whole = box([0, 0, 0], shape);
  const { labels } = synthesize(whole);
  const affinities = synthesizeAffinities(whole);
  // The synthetic cells are apart (membranes are 0); for the region graph they must touch, so each
  // membrane voxel takes the label before it along x.
  const touching = BigUint64Array.from(labels);
  for (let i = 1; i < touching.length; i++) if (touching[i] === 0n) touching[i] = touching[i - 1];
  const mvx = (s: number) => (size ** 3 / 1e6 / s).toFixed(2);

  // The algorithms alone, one thread.
  let t = performance.now();
  const ws = watershed(affinities, shape, {
    high: params.high_threshold,
    low: params.low_threshold,
    mergeThreshold: params.merge_threshold,
    mergeSize: params.merge_size,
    dustSize: params.dust_size,
  });
  const wsSeconds = (performance.now() - t) / 1000;
  say(`| watershed, one call on ${size}^3 | ${wsSeconds.toFixed(1)} s | ${mvx(wsSeconds)} MVx/s | ${ws.count} segments | peak RSS so far ${peakMiB()} MiB |`);
  t = performance.now();
  const [graph] = chunkGraphs({ labels: touching, affinities, box: whole, chunks: [whole], bounds: whole });
  const mgSeconds = (performance.now() - t) / 1000;
  say(
    `| mean graph, one call on ${size}^3 | ${mgSeconds.toFixed(1)} s | ${mvx(mgSeconds)} MVx/s | ${graph.edges.length} edges | peak RSS so far ${peakMiB()} MiB |`,
  );

  // The tasks through the pool.
  await rm(dir, { recursive: true, force: true });
  const common = { size: shape, resolution: [8, 8, 8] as Vec3, chunkSize: [chunk, chunk, chunk] as Vec3, mips: 0 };
  const affUrl = `file://${join(dir, 'affinities')}`,
    segUrl = `file://${join(dir, 'watershed')}`,
    truthUrl = `file://${join(dir, 'cells')}`;
  const aff = await Volume.create(affUrl, createInfo({ ...common, type: 'image', dataType: 'float32', numChannels: 3, encoding: 'raw' }));
  await aff.writeChunks(0, allChunks(aff.scale(0)), affinities, whole);
  await Volume.create(segUrl, createInfo({ ...common, type: 'segmentation', dataType: 'uint64', encoding: 'compressed_segmentation' }));
  const truth = await Volume.create(truthUrl, createInfo({ ...common, type: 'segmentation', dataType: 'uint64', encoding: 'compressed_segmentation' }));
  await truth.writeChunks(0, allChunks(truth.scale(0)), touching, whole);
  const pool = createTaskPool({ ...DEFAULT_CONFIG, threads, backend });
  try {
    const options = { concurrency: threads * 2, progress: false };
    const wsPlan = await planWatershed({ affinitiesPath: affUrl, segmentationPath: segUrl, params, overlap });
    const wsRun = await runPlan(wsPlan, (task) => pool.run(task), options);
    const mgPlan = await planMeanGraph({ affinitiesPath: affUrl, segmentationPath: truthUrl });
    const mgRun = await runPlan(mgPlan, (task) => pool.run(task), options);
    const dead = [...wsRun.dead, ...mgRun.dead];
    if (dead.length) throw new Error(`bench: ${dead.length} tasks failed: ${dead[0].error}`);
    say(
      `| Watershed tasks, ${chunk}^3 chunks + ${overlap} voxels overlap, ${wsRun.tasks} tasks | ${wsRun.seconds.toFixed(1)} s | ${mvx(wsRun.seconds)} MVx/s (written voxels) | | peak RSS so far ${peakMiB()} MiB |`,
    );
    say(
      `| MeanGraph tasks + reducer, ${chunk}^3 chunks, ${mgRun.tasks} tasks | ${mgRun.seconds.toFixed(1)} s | ${mvx(mgRun.seconds)} MVx/s | | peak RSS so far ${peakMiB()} MiB |`,
    );
  } finally {
    await pool.close();
  }
  console.log(lines.join('\n'));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
