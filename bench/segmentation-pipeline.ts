// Benchmark: the demo's segmentation pipeline end to end, stage by stage: the generator's affinities
// over a volume ingested, then watershed, mean graph, blockwise agglomeration (levels, names,
// mapping), remap into segmentation_<t>, its downsampling and its multi-resolution meshes (forge,
// merge, segment properties), planned with the planners' defaults (as `digest plan` would) and run
// through the task pool on file://. Prints each stage's wall time and the process's peak RSS
// (the pool's threads included) as each stage ends. The affinities' build chunks are written first,
// untimed.
//   node dist/bench/segmentation-pipeline.js [--size 256,256,256] [--threads 2] [--dir D]
import { rm } from 'node:fs/promises';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Vec3 } from '../common/box.js';
import { DEMO_AGGLOMERATION_THRESHOLD, DEMO_WATERSHED, writeSyntheticBuildChunks } from '../demo/demo.js';
import { createInfo } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { runPlan } from '../queue/local/run.js';
import { DEFAULT_CONFIG } from '../runtime/config.js';
import { createTaskPool } from '../runtime/pool.js';
import { Plan, planAgglomerate, planIngest, planWatershed } from '../tasks/plan/planners.js';

const { values } = parseArgs({ options: { size: { type: 'string' }, threads: { type: 'string' }, dir: { type: 'string' } } });
const size = (values.size ?? '256,256,256').split(',').map(Number) as Vec3;
const threads = Number(values.threads ?? availableParallelism());
const dir = values.dir ?? '/tmp/digest-bench-segmentation-pipeline';

async function main(): Promise<void> {
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; ${threads} pool threads`,
  );
  await rm(dir, { recursive: true, force: true });
  const { affinityBuild } = await writeSyntheticBuildChunks(dir, size, [128, 128, 128], { affinities: true });
  const layers = `file://${join(dir, 'layers')}`;
  const common = { size, resolution: [8, 8, 8] as Vec3, chunkSize: [64, 64, 64] as Vec3 };
  const affinities = `${layers}/affinities`,
    watershed = `${layers}/watershed`;
  await Volume.create(affinities, createInfo({ ...common, type: 'image', dataType: 'float32', numChannels: 3, encoding: 'raw', mips: 0 }));
  await Volume.create(
    watershed,
    createInfo({ ...common, type: 'segmentation', dataType: 'uint64', encoding: 'compressed_segmentation', blockSize: [8, 8, 8], mips: 0 }),
  );
  const ingest = await planIngest({ layerPath: affinities, buildPath: `file://${affinityBuild}`, encoding: 'npz' });
  const pool = createTaskPool({ ...DEFAULT_CONFIG, threads, backend: 'cpu' });
  const rows: string[] = [];
  const before = Math.round(process.resourceUsage().maxRSS / 1024);
  let total = 0;
  const run = async (plan: Plan) => {
    let name = '',
      t0 = 0;
    const end = () => {
      if (!name) return;
      const s = (performance.now() - t0) / 1000;
      total += s;
      rows.push(`| ${name} | ${s.toFixed(1)} s | ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB |`);
    };
    let i = 0;
    const summary = await runPlan(plan, (t) => pool.run(t), {
      concurrency: 2 * threads,
      progress: false,
      onStage: () => {
        end();
        name = plan.stages[i++].name;
        t0 = performance.now();
      },
    });
    end();
    if (summary.dead.length > 0) throw new Error(`segmentation-pipeline: ${summary.dead.length} tasks failed`);
  };
  try {
    await run(ingest);
    await run(await planWatershed({ affinitiesPath: affinities, segmentationPath: watershed, params: DEMO_WATERSHED, overlap: 8 }));
    await run(
      await planAgglomerate({
        affinitiesPath: affinities,
        segmentationPath: watershed,
        threshold: DEMO_AGGLOMERATION_THRESHOLD,
        outPath: `${layers}/segmentation_${DEMO_AGGLOMERATION_THRESHOLD}`,
      }),
    );
  } finally {
    await pool.close();
  }
  console.log(
    `${size.join('x')}, 64^3 chunks, threshold ${DEMO_AGGLOMERATION_THRESHOLD}: ${total.toFixed(1)} s in all (peak RSS ${before} MiB before the first stage)`,
  );
  console.log('| stage | wall | peak RSS so far |\n| --- | --- | --- |');
  for (const row of rows) console.log(row);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
