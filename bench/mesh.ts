// Benchmark: Mesh tasks over every chunk of a synthetic 512^3 uint64 segmentation (all labels), then
// the manifests, through the worker pool on file:// storage. Prints a markdown block for bench/RESULTS.md.
//   node dist/bench/mesh.js [--size 512] [--chunk 64] [--levels 0,3] [--threads N] [--dir /tmp/digest-bench-mesh]
import { rm } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { DEFAULT_CONFIG } from '../runtime/config.js';
import { createTaskPool } from '../runtime/pool.js';
import { parseBackendChoice } from '../kernels/backend.js';
import { runPlan } from '../queue/local/run.js';
import { synthesize } from '../demo/synthetic.js';
import { box, Vec3 } from '../common/box.js';
import { chunksWithin, createInfo } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { planMesh } from '../tasks/plan/planners.js';
import { Task } from '../tasks/registry.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string' },
    chunk: { type: 'string' },
    levels: { type: 'string' },
    threads: { type: 'string' },
    dir: { type: 'string' },
    backend: { type: 'string' },
  },
});
const size = Number(values.size ?? 512);
const chunk = Number(values.chunk ?? 64);
const levels = (values.levels ?? '0,3').split(',').map(Number);
const threads = Number(values.threads ?? availableParallelism());
const backend = parseBackendChoice((values.backend as string | undefined) ?? 'auto');
const dir = values.dir ?? '/tmp/digest-bench-mesh';
const peakMiB = () => Math.round(process.resourceUsage().maxRSS / 1024);

async function main(): Promise<void> {
  const lines: string[] = [];
  const say = (s: string) => {
    lines.push(s);
    console.error(s);
  };
  say(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; threads ${threads}, backend ${backend}`,
  );
  await rm(dir, { recursive: true, force: true });
  const layer = `file://${join(dir, 'segmentation')}`;
  const shape: Vec3 = [size, size, size];
  const volume = await Volume.create(
    layer,
    createInfo({
      type: 'segmentation',
      dataType: 'uint64',
      encoding: 'compressed_segmentation',
      size: shape,
      resolution: [8, 8, 8],
      chunkSize: [chunk, chunk, chunk],
      mips: 0,
    }),
  );
  // Mip 0 written directly, one 128^3 slab of synthetic cells at a time.
  const slab = Math.max(chunk, 128);
  for (let z = 0; z < size; z += slab)
    for (let y = 0; y < size; y += slab)
      for (let x = 0; x < size; x += slab) {
        const region = box([x, y, z], [Math.min(x + slab, size), Math.min(y + slab, size), Math.min(z + slab, size)]);
        await volume.writeChunks(0, chunksWithin(volume.scale(0), region), synthesize(region).labels, region);
      }
  const pool = createTaskPool({ ...DEFAULT_CONFIG, threads, backend });
  try {
    for (const level of levels) {
      await rm(join(dir, 'segmentation', 'mesh'), { recursive: true, force: true });
      const plan = await planMesh({ layerPath: layer, simplification: level });
      let triangles = 0,
        fragments = 0;
      const execute = async (t: Task) => {
        const r = await pool.run(t);
        triangles += r.triangles ?? 0;
        if (r.kind === 'mesh') fragments += r.files ?? 0;
        return r;
      };
      const mesh = await runPlan({ ...plan, stages: [plan.stages[0]] }, execute, { concurrency: threads * 2, progress: false });
      const manifests = await runPlan({ ...plan, stages: [plan.stages[1]] }, execute, { concurrency: threads * 2, progress: false });
      const dead = [...mesh.dead, ...manifests.dead];
      if (dead.length) throw new Error(`bench: ${dead.length} tasks failed: ${dead[0].error}`);
      say(
        `| ${size}^3 uint64, ${chunk}^3 chunks, simplification ${level} | ${mesh.tasks} | ${fragments} | ${(triangles / 1e6).toFixed(2)} M | ${mesh.seconds.toFixed(1)} s | ${(size ** 3 / 1e6 / mesh.seconds).toFixed(2)} | ${(triangles / 1e6 / mesh.seconds).toFixed(2)} M | ${manifests.seconds.toFixed(1)} s | ${peakMiB()} MiB |`,
      );
    }
  } finally {
    await pool.close();
  }
  console.log(lines.join('\n'));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
