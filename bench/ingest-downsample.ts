// Benchmark: ingest + downsample of a synthetic uint8 image (raw and jpeg) and uint64 segmentation
// (compressed_segmentation), default 512^3, CPU path, through the worker pool on file:// storage.
// Prints a markdown block for bench/RESULTS.md. (The kernels against their C/C++ peers: bench/peers.ts.)
//   node --expose-gc dist/bench/ingest-downsample.js [--size 512] [--threads N] [--dir /tmp/digest-bench] [--only raw,jpeg,compressed] [--sharded [--shard-chunks 64]]
import { mkdir, rm } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeSyntheticBuildChunks } from '../demo/demo.js';
import { availableParallelism } from 'node:os';
import { DEFAULT_CONFIG } from '../runtime/config.js';
import { createTaskPool } from '../runtime/pool.js';
import { parseBackendChoice } from '../kernels/backend.js';
import { runPlan } from '../queue/local/run.js';
import { Vec3 } from '../common/box.js';
import { createInfo } from '../precomputed/info.js';
import { BYTES_PER_VOXEL } from '../common/dtype.js';
import { Volume } from '../precomputed/volume.js';
import { planIngest } from '../tasks/plan/planners.js';
import { openStore } from '../storage/open.js';
import { listAll } from '../storage/store.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string' },
    threads: { type: 'string' },
    dir: { type: 'string' },
    backend: { type: 'string' },
    sharded: { type: 'boolean' },
    'shard-chunks': { type: 'string' },
    only: { type: 'string' },
  },
});
/** --sharded: every scale in shards of --shard-chunks chunks (default 64: 4x4x4, 256^3 voxels at mip 0, one build chunk each). */
const sharded = values.sharded ?? false;
const shardChunks = Number(values['shard-chunks'] ?? 64);
const shardShape = ['1x1x1', '2x1x1', '2x2x1', '2x2x2', '4x2x2', '4x4x2', '4x4x4', '8x4x4', '8x8x4', '8x8x8'][Math.log2(shardChunks)] ?? `${shardChunks}`;
const size = Number(values.size ?? 512);
const threads = Number(values.threads ?? availableParallelism());
const backend = parseBackendChoice((values.backend as string | undefined) ?? 'auto');
const dir = values.dir ?? '/tmp/digest-bench';
const peakMiB = () => Math.round(process.resourceUsage().maxRSS / 1024);

async function main(): Promise<void> {
  const lines: string[] = [];
  const say = (s: string) => {
    lines.push(s);
    console.error(s);
  };
  say(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; threads ${threads}`);

  await endToEnd(say);
  console.log(lines.join('\n'));
}

/** End to end: npz build chunks of 256^3 -> ingest (mips it completes) -> downsample stages. */
async function endToEnd(say: (s: string) => void): Promise<void> {
  const mvx = (voxels: number, s: number) => (voxels / 1e6 / s).toFixed(1);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const shape: Vec3 = [size, size, size];
  // The pool starts first, so that its threads are up when timing starts: a worker process runs for
  // hours, and this measures its throughput, not its start.
  const pool = createTaskPool({ ...DEFAULT_CONFIG, threads, backend });
  const generated = performance.now();
  const { imageBuild, segmentationBuild } = await writeSyntheticBuildChunks(dir, shape, [256, 256, 256]);
  console.error(`generated build chunks in ${((performance.now() - generated) / 1000).toFixed(1)} s`);
  try {
    for (const [name, build, spec] of [
      ['uint8 image, raw+gzip', imageBuild, { type: 'image', dataType: 'uint8', encoding: 'raw' }],
      ['uint8 image, jpeg', imageBuild, { type: 'image', dataType: 'uint8', encoding: 'jpeg' }],
      [
        'uint64 segmentation, compressed_segmentation+gzip',
        segmentationBuild,
        { type: 'segmentation', dataType: 'uint64', encoding: 'compressed_segmentation' },
      ],
    ] as const) {
      if (values.only && !values.only.split(',').some((o) => name.includes(o))) continue;
      const layer = `file://${join(dir, 'layers', name.replace(/\W+/g, '-'))}`;
      const chunkBytes = 64 ** 3 * BYTES_PER_VOXEL[spec.dataType];
      const info = createInfo({
        ...spec,
        size: shape,
        resolution: [8, 8, 8],
        chunkSize: [64, 64, 64],
        ...(sharded ? { sharding: { targetBytes: shardChunks * chunkBytes } } : {}),
      });
      await Volume.create(layer, info);
      const options = { layerPath: layer, buildPath: `file://${build}`, encoding: 'npz' as const, workers: threads };
      const plan = await planIngest(options);
      (globalThis as { gc?: () => void }).gc?.();
      const summary = await runPlan(plan, (t) => pool.run(t), { concurrency: threads * 2, progress: false });
      if (summary.dead.length) throw new Error(`bench: ${summary.dead.length} tasks failed: ${summary.dead[0].error}`);
      const objects = (await listAll(openStore(layer))).length;
      say(
        `| ingest + downsample ${size}^3 ${name}${sharded ? `, sharded (${shardShape}-chunk shards)` : ''}, ${info.scales.length} mips, ${summary.tasks} tasks | ${summary.seconds.toFixed(1)} s, ${mvx(size ** 3, summary.seconds)} MVx/s (mip-0 voxels), ${objects} objects, peak RSS so far ${peakMiB()} MiB |`,
      );
    }
  } finally {
    await pool.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
