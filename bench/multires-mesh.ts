// Benchmark: legacy meshes against multi-resolution meshes on the same segmentation. The demo
// generator's cells (a jittered Voronoi of 24-voxel cells, thin membranes) over `--size` in `--chunk`
// chunks (uint64, compressed_segmentation) on file://; then each plan's stages run in this process on
// one thread, and for each stage: time, objects and bytes written; then the largest task of each
// multires stage again in a fresh process under /usr/bin/time (its peak RSS); and for the largest
// segment, the bytes Neuroglancer fetches to show it at the coarsest lod and at every lod down to the
// finest (manifest and fragments), against the legacy manifest and fragments.
//   node dist/bench/multires-mesh.js [--size 256,256,128] [--chunk 64] [--shard-bits 2] [--dir D]
import { spawnSync } from 'node:child_process';
import { readdir, rm, stat } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { box, Vec3 } from '../common/box.js';
import { synthesize } from '../demo/synthetic.js';
import { allChunks, createInfo } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { runPlan } from '../queue/local/run.js';
import { Plan, stageTasks } from '../tasks/plan/format.js';
import { planMesh, planMultiresMesh } from '../tasks/plan/planners.js';
import { runTask, Task } from '../tasks/registry.js';
import { readSegmentMesh } from '../test/multires-reader.js';

const { values } = parseArgs({ options: { size: { type: 'string' }, chunk: { type: 'string' }, 'shard-bits': { type: 'string' }, dir: { type: 'string' } } });
const size = (values.size ?? '256,256,128').split(',').map(Number) as Vec3;
const chunk = Number(values.chunk ?? 64);
const shardBits = Number(values['shard-bits'] ?? 2);
const dir = values.dir ?? '/tmp/digest-bench-multires-mesh';
const cli = join(import.meta.dirname, '..', 'cli', 'main.js');

async function files(path: string): Promise<{ count: number; bytes: number }> {
  let count = 0,
    bytes = 0;
  for (const e of await readdir(path, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (!e.isFile()) continue;
    count++;
    bytes += (await stat(join(e.parentPath, e.name))).size;
  }
  return { count, bytes };
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

async function makeLayer(name: string): Promise<string> {
  const url = `file://${join(dir, name)}`;
  const info = createInfo({
    type: 'segmentation',
    dataType: 'uint64',
    encoding: 'compressed_segmentation',
    size,
    chunkSize: [chunk, chunk, chunk],
    resolution: [8, 8, 8],
    mips: 0,
  });
  const volume = await Volume.create(url, info);
  for (const c of allChunks(info.scales[0])) await volume.writeChunk(0, c, synthesize(c).labels);
  return url;
}

/** Runs each stage on one thread; prints time and what the mesh directory gained. */
async function runStages(label: string, plan: Plan, meshDir: string): Promise<void> {
  for (const stage of plan.stages) {
    const before = await files(meshDir);
    const t = performance.now();
    const summary = await runPlan({ ...plan, stages: [stage] }, runTask, { concurrency: 1, progress: false });
    if (summary.dead.length) throw new Error(`${label} ${stage.name}: ${summary.dead.length} dead`);
    const after = await files(meshDir);
    console.log(
      `| ${label} | ${stage.name} | ${[...stageTasks(stage)].length} | ${((performance.now() - t) / 1000).toFixed(1)} s | ${after.count - before.count} | ${mib(after.bytes - before.bytes)} |`,
    );
  }
}

/** Peak RSS (KiB) of one task in a fresh process. */
function taskRss(task: Task): number {
  const run = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, cli, 'task', JSON.stringify(task)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`digest task failed: ${run.stderr}`);
  return Number(run.stderr.trim().split('\n').at(-1));
}

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; one thread`);
  await rm(dir, { recursive: true, force: true });
  const t0 = performance.now();
  const [legacy, multires] = [await makeLayer('legacy'), await makeLayer('multires')];
  const labels = synthesize(box([0, 0, 0], size)).labels;
  const voxels = new Map<bigint, number>();
  for (const l of labels) if (l !== 0n) voxels.set(l, (voxels.get(l) ?? 0) + 1);
  console.log(`segmentation ${size.join('x')} in ${chunk}^3 chunks, ${voxels.size} segments, written in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  console.log('| format | stage | tasks | time | objects written | bytes written |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  const legacyPlan = await planMesh({ layerPath: legacy });
  await runStages('legacy', legacyPlan, join(dir, 'legacy', 'mesh'));
  const multiresPlan = await planMultiresMesh({ layerPath: multires, shardBits });
  await runStages(`multires, 2^${shardBits} shards`, multiresPlan, join(dir, 'multires', 'mesh'));

  // The largest forge task (most voxels: the first box) and the merge task of the largest shard.
  const forge = stageTasks(multiresPlan.stages[0]).next().value!.task;
  const merges = [...stageTasks(multiresPlan.stages[1])].map((t) => t.task);
  const shardSizes = await Promise.all(
    merges.map(
      async (_, i) =>
        (await stat(join(dir, 'multires', 'mesh', `${i.toString(16).padStart(Math.ceil(shardBits / 4), '0')}.shard`)).catch(() => ({ size: 0 }))).size,
    ),
  );
  const merge = merges[shardSizes.indexOf(Math.max(...shardSizes))];
  console.log(
    `\npeak RSS, fresh process: largest forge task ${mib(taskRss(forge) * 1024)}, merge task of the largest shard (${mib(Math.max(...shardSizes))}) ${mib(taskRss(merge) * 1024)}`,
  );

  // The largest segment: what a viewer fetches.
  const [largest] = [...voxels].sort((a, b) => b[1] - a[1])[0];
  const legacyVolume = await Volume.open(legacy);
  const manifest = JSON.parse(new TextDecoder().decode((await legacyVolume.store.get(`mesh/${largest}:0`))!)) as { fragments: string[] };
  // As stored (gzip, as served with Content-Encoding: what goes over the wire).
  let legacyBytes = 0;
  for (const f of manifest.fragments) {
    const path = join(dir, 'legacy', 'mesh', f);
    legacyBytes += (await stat(`${path}.gz`).catch(() => stat(path))).size;
  }
  const read = (await readSegmentMesh(join(dir, 'multires', 'mesh'), largest))!;
  const manifestBytes = read.manifest.bytes;
  const perLod = read.manifest.lods.map((l) => l.sizes.reduce((a, b) => a + b, 0));
  const triangles = read.manifest.lods.map((_, lod) => read.fragments.filter((f) => f.lod === lod).reduce((n, f) => n + f.triangles.length / 3, 0));
  console.log(
    `largest segment ${largest} (${voxels.get(largest)} voxels): legacy ${manifest.fragments.length} fragments, ${legacyBytes.toLocaleString('en')} bytes gzipped + manifest; multires ${perLod.length} lods, triangles per lod ${triangles.join(', ')}; coarsest lod ${(manifestBytes + perLod.at(-1)!).toLocaleString('en')} bytes with the manifest, every lod ${(manifestBytes + perLod.reduce((a, b) => a + b, 0)).toLocaleString('en')}`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
