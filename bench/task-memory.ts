// Benchmark: each segmentation task kind at the size the planner gives it for `--memory`, and its
// peak memory against that budget. Writes the demo generator's affinities (float32 x 3, raw) over
// `--size` in `--chunk` chunks on file://, then plans and runs (in this process, one thread) the
// watershed and the agglomeration into segmentation_<t> with multires meshes (`--gather-block N`:
// gathered first) and skeletons, all at `--memory`;
// for each sized kind the largest task runs again in a fresh process under /usr/bin/time: its box,
// the planner's figure, the peak RSS and the time; then each stage's time against the estimate's
// core time for it (the density counted in the chunk graphs written).
//   node dist/bench/task-memory.js [--size 384] [--chunk 64] [--memory 1024] [--gather-block N] [--dir D]
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseChunkKey, shapeOf, Vec3, voxelCount } from '../common/box.js';
import { DEMO_AGGLOMERATION_THRESHOLD, DEMO_WATERSHED } from '../demo/demo.js';
import { synthesizeAffinities } from '../demo/synthetic.js';
import { allChunks, createInfo } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { runPlan } from '../queue/local/run.js';
import { Plan, Stage, stageTasks } from '../tasks/plan/format.js';
import { planAgglomerate, planWatershed } from '../tasks/plan/planners.js';
import { TASK_COSTS, TaskCost } from '../tasks/plan/task-size.js';
import { estimatePlan } from '../tasks/plan/estimate.js';
import { measureGraphDensity } from '../tasks/plan/graph-estimate.js';
import { runTask, Task } from '../tasks/registry.js';

const { values } = parseArgs({
  options: { size: { type: 'string' }, chunk: { type: 'string' }, memory: { type: 'string' }, dir: { type: 'string' }, 'gather-block': { type: 'string' } },
});
const size = Number(values.size ?? 384);
const chunk = Number(values.chunk ?? 64);
const memory = Number(values.memory ?? 1024) * 2 ** 20;
const dir = values.dir ?? '/tmp/digest-bench-task-memory';
const cli = join(import.meta.dirname, '..', 'cli', 'main.js');
const OVERLAP = 8;
const mib = (b: number) => `${Math.round(b / 2 ** 20)} MiB`;

/** Peak RSS (bytes) and seconds of one task in a fresh process. */
function measure(task: Task): { rss: number; seconds: number } {
  const run = spawnSync('/usr/bin/time', ['-f', '%M %e', process.execPath, cli, 'task', JSON.stringify(task)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`digest task failed: ${run.stderr}`);
  const [kib, seconds] = run.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { rss: kib * 1024, seconds };
}

async function runStage(stage: Stage, layer: string): Promise<number> {
  const t = performance.now();
  const summary = await runPlan({ version: 2, layer_path: layer, stages: [stage] } as Plan, runTask, { concurrency: 1, progress: false });
  if (summary.dead.length) throw new Error(`${stage.name}: ${summary.dead.length} dead: ${summary.dead[0].error}`);
  return (performance.now() - t) / 1000;
}

/** The task of a stage whose box holds the most voxels (the first of them). */
function largest(stage: Stage, field: string): { task: Task; tasks: number } {
  let best: Task | undefined,
    most = -1,
    tasks = 0;
  for (const { task } of stageTasks(stage)) {
    tasks++;
    const v = voxelCount(parseChunkKey(String((task as Record<string, unknown>)[field])));
    if (v > most) [best, most] = [task, v];
  }
  return { task: best!, tasks };
}

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`);
  await rm(dir, { recursive: true, force: true });
  const common = { size: [size, size, size] as Vec3, resolution: [8, 8, 8] as Vec3, chunkSize: [chunk, chunk, chunk] as Vec3, mips: 0 };
  const affUrl = `file://${join(dir, 'affinities')}`,
    wsUrl = `file://${join(dir, 'watershed')}`;
  const aff = await Volume.create(affUrl, createInfo({ ...common, type: 'image', dataType: 'float32', numChannels: 3, encoding: 'raw' }));
  for (const c of allChunks(aff.scale(0))) await aff.writeChunk(0, c, synthesizeAffinities(c));
  await Volume.create(wsUrl, createInfo({ ...common, type: 'segmentation', dataType: 'uint64', encoding: 'compressed_segmentation' }));
  console.log(`affinities ${size}^3 in ${chunk}^3 chunks; --memory ${mib(memory)}\n`);
  console.log('| kind | tasks | largest task box | planned peak | measured peak RSS | its time | stage time (one thread) |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  const row = (kind: string, cost: TaskCost | undefined, stage: Stage, field: string, seconds: number, grow = 0) => {
    const { task, tasks } = largest(stage, field);
    const extent = shapeOf(parseChunkKey(String((task as Record<string, unknown>)[field]))).map((s) => s + 2 * grow) as Vec3;
    const planned = cost ? cost.baseBytes + cost.bytesPerVoxel * cost.held(extent, [chunk, chunk, chunk]) : NaN;
    const { rss, seconds: one } = measure(task);
    console.log(`| ${kind} | ${tasks} | ${extent.join('x')} | ${cost ? mib(planned) : '-'} | ${mib(rss)} | ${one.toFixed(1)} s | ${seconds.toFixed(1)} s |`);
  };
  const [watershed] = (await planWatershed({ affinitiesPath: affUrl, segmentationPath: wsUrl, params: DEMO_WATERSHED, overlap: OVERLAP, memory })).stages;
  const watershedSeconds = await runStage(watershed, wsUrl);
  row('watershed', TASK_COSTS.watershed, watershed, 'chunk_position', watershedSeconds);
  const plan = await planAgglomerate({
    affinitiesPath: affUrl,
    segmentationPath: wsUrl,
    threshold: DEMO_AGGLOMERATION_THRESHOLD,
    shardBits: 2,
    memory,
    gatherBlock: values['gather-block'] === undefined ? undefined : Number(values['gather-block']),
    skeletons: true,
  });
  const stageSeconds: number[] = [];
  for (const stage of plan.stages) {
    const seconds = await runStage(stage, plan.layer_path);
    stageSeconds.push(seconds);
    if (stage.name === 'mean graph') row('mean graph', TASK_COSTS.mean_graph, stage, 'chunk_position', seconds);
    else if (stage.name === 'remap') row('remap', TASK_COSTS.remap, stage, 'chunk_position', seconds);
    else if (stage.name === 'mesh forge') row('mesh forge', TASK_COSTS.mesh, stage, 'chunk_position', seconds);
    else if (stage.name === 'skeletonize') row('skeletonize', TASK_COSTS.skeletonize, stage, 'chunk_position', seconds);
    else if (stage.name === 'skeleton merge' || stage.name === 'mesh merge') {
      // A merge holds its shard's objects: its first task measured again (merges are idempotent).
      const tasks = [...stageTasks(stage)];
      const { rss, seconds: one } = measure(tasks[0].task);
      console.log(`| ${stage.name} | ${tasks.length} | a shard | | ${mib(rss)} | ${one.toFixed(1)} s | ${seconds.toFixed(1)} s |`);
    } else console.log(`| ${stage.name} | ${[...stageTasks(stage)].length} | | | | | ${seconds.toFixed(1)} s |`);
  }
  // The estimate of the same plans (with the density counted in the chunk graphs) against the stage times.
  const infos = new Map([
    [wsUrl, (await Volume.open(wsUrl)).info],
    [plan.layer_path, (await Volume.open(plan.layer_path)).info],
  ]);
  const density = (await measureGraphDensity(await Volume.open(wsUrl))) ?? undefined;
  const estimated = [
    ...estimatePlan({ version: 2, layer_path: wsUrl, stages: [watershed] }, infos, { density }).stages,
    ...estimatePlan(plan, infos, { density }).stages,
  ];
  const measured = [watershedSeconds, ...stageSeconds];
  console.log('\n| stage | one thread | estimated core time | estimate / measured |\n| --- | --- | --- | --- |');
  estimated.forEach((e, i) => {
    if (measured[i] < 0.5 && e.coreHours * 3600 < 0.5) return;
    console.log(`| ${e.name} | ${measured[i].toFixed(1)} s | ${(e.coreHours * 3600).toFixed(1)} s | ${((e.coreHours * 3600) / measured[i]).toFixed(2)} |`);
  });
  const total = measured.reduce((a, b) => a + b, 0),
    totalEstimate = estimated.reduce((a, e) => a + e.coreHours * 3600, 0);
  console.log(`| total | ${total.toFixed(1)} s | ${totalEstimate.toFixed(1)} s | ${(totalEstimate / total).toFixed(2)} |`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
