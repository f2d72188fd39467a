// Benchmark: the memory of sharded tasks at the default shard size, streamed. A uint8 image of
// `--size` (2048x2048x512: eight 256 MiB mip-0 shards, and one mip-1 shard whose source is all of
// mip 0) at 128x128x64 chunks, `create-layer --sharded` defaults, incompressible voxels (the shards'
// gzip keeps nothing out: the worst case for what a task holds); build chunks of 1024x1024x128 npz.
// The plan's first Shard task (mip 0 from build chunks) and its mip-1 Downsample task run again in a
// fresh process under /usr/bin/time: peak RSS against the planner's figure, and time.
// `--shard-mib` and `--encoding jpeg` try igneous-sized shards (a few GB), `--image smooth` a
// textured image (membrane-like waves and a little noise: JPEG keeps about a tenth of it) instead
// of noise. `--labels` makes a uint64 segmentation (compressed_segmentation) of cells about 40
// voxels across with a label of their own each, `--build` the build chunks' size.
// `--workers` is the plan's (1: its Shard tasks also make the mips above where a task fits).
//   node dist/bench/sharded-memory.js [--size 2048,2048,512] [--shard-mib 256] [--encoding raw|jpeg] [--image noise|smooth] [--labels] [--build 1024,1024,128] [--workers 32] [--dir D]
import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Box, box, chunkKey, parseChunkKey, shapeOf, Vec3 } from '../common/box.js';
import { voxelBytes } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { runPlan } from '../queue/local/run.js';
import { encodeNpy, encodeNpz } from '../sources/npz.js';
import { stageTasks, taskAt } from '../tasks/plan/format.js';
import { chooseLevels, planIngest, shardLevelsPeakBytes, shardPeakBytes } from '../tasks/plan/planners.js';
import { shardLevelRegions } from '../tasks/shard.js';
import { runTask, Task } from '../tasks/registry.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string' },
    dir: { type: 'string' },
    'shard-mib': { type: 'string' },
    encoding: { type: 'string' },
    image: { type: 'string' },
    labels: { type: 'boolean' },
    build: { type: 'string' },
    workers: { type: 'string' },
  },
});
const size = (values.size ?? '2048,2048,512').split(',').map(Number) as Vec3;
const shardMib = values['shard-mib'] ?? '256';
const labels = values.labels ?? false;
const encoding = values.encoding ?? (labels ? 'compressed_segmentation' : 'raw');
const dir = values.dir ?? '/tmp/digest-bench-sharded-memory';
const cli = join(import.meta.dirname, '..', 'cli', 'main.js');
const BUILD = (values.build ?? '1024,1024,128').split(',').map(Number) as Vec3;
const mib = (b: number) => `${Math.round(b / 2 ** 20)} MiB`;

function digest(args: string[]): { seconds: number; rss: number } {
  const run = spawnSync('/usr/bin/time', ['-f', '%M %e', process.execPath, cli, ...args], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`digest ${args[0]} failed: ${run.stderr}`);
  const [kib, seconds] = run.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { rss: kib * 1024, seconds };
}

/** xorshift32 bytes over box `b`: what gzip cannot shrink. */
function noise(b: Box, seed: number): Uint8Array {
  const [sx, sy, sz] = shapeOf(b);
  const n = sx * sy * sz;
  const out = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 255;
  }
  return out;
}

/** Cells of about 40 voxels across (8 in z at 4x4x40 nm): a label each, from the cell's position. */
function cells(b: Box): BigUint64Array {
  const [sx, sy, sz] = shapeOf(b);
  const out = new BigUint64Array(sx * sy * sz);
  // A cell is a grid cell of 40x40x8 voxels with its walls wobbling, so labels are not axis-aligned boxes.
  for (let z = 0, i = 0; z < sz; z++)
    for (let y = 0; y < sy; y++)
      for (let x = 0; x < sx; x++, i++) {
        const gx = b.start[0] + x,
          gy = b.start[1] + y,
          gz = b.start[2] + z;
        const cx = Math.floor((gx + 6 * Math.sin(gy / 9)) / 40),
          cy = Math.floor((gy + 6 * Math.cos(gx / 11)) / 40),
          cz = Math.floor(gz / 8);
        out[i] = BigInt(1 + cx + 1000 * cy + 1_000_000 * cz);
      }
  return out;
}

/** Waves of period 14-18 voxels by global position, and a little noise. */
function smooth(b: Box, seed: number): Uint8Array {
  const [sx, sy, sz] = shapeOf(b);
  const fx = Float64Array.from({ length: sx }, (_, i) => Math.sin((b.start[0] + i) / 2.3));
  const fy = Float64Array.from({ length: sy }, (_, i) => Math.cos((b.start[1] + i) / 2.9));
  const jitter = noise(b, seed);
  const out = new Uint8Array(sx * sy * sz);
  for (let z = 0, i = 0; z < sz; z++) {
    const fz = Math.sin((b.start[2] + z) / 5);
    for (let y = 0; y < sy; y++) for (let x = 0; x < sx; x++, i++) out[i] = 128 + 50 * fx[x] * fy[y] + 20 * fz + (jitter[i] & 7);
  }
  return out;
}

console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`);
await rm(dir, { recursive: true, force: true });
const layer = `file://${join(dir, 'em')}`,
  build = join(dir, 'build');
await mkdir(build, { recursive: true });
for (let z = 0; z < size[2]; z += BUILD[2])
  for (let y = 0; y < size[1]; y += BUILD[1])
    for (let x = 0; x < size[0]; x += BUILD[0]) {
      const b = box([x, y, z], [x + BUILD[0], y + BUILD[1], z + BUILD[2]].map((s, d) => Math.min(s, size[d])) as Vec3);
      const shape = shapeOf(b);
      const voxels = labels ? cells(b) : (values.image === 'smooth' ? smooth : noise)(b, x + 7 * y + 13 * z + 1);
      await writeFile(join(build, `${chunkKey(b)}.npz`), encodeNpz({ data: encodeNpy(voxels, shape) }));
    }
digest([
  'create-layer',
  layer,
  '--type',
  labels ? 'segmentation' : 'image',
  '--dtype',
  labels ? 'uint64' : 'uint8',
  '--size',
  size.join(','),
  '--resolution',
  '4,4,40',
  '--chunk',
  '128,128,64',
  '--factor',
  '2,2,1',
  '--sharded',
  '--shard-mib',
  shardMib,
  '--encoding',
  encoding,
]);
const volume = await Volume.open(layer);
const { info } = volume;
const workers = values.workers === undefined ? undefined : Number(values.workers);
const plan = await planIngest({ layerPath: layer, buildPath: `file://${build}`, encoding: 'npz', buildSize: BUILD, workers });
console.log(
  `${size.join('x')} ${labels ? 'uint64 cells' : `uint8 ${values.image === 'smooth' ? 'smooth' : 'noise'}`}, ${encoding}, build chunks ${BUILD.join('x')}, mip 0 shards of ${mib(2 ** (info.scales[0].sharding!.preshift_bits + info.scales[0].sharding!.minishard_bits) * 128 * 128 * 64 * voxelBytes(info))} of voxels; stages: ${plan.stages.map((s) => s.name).join(', ')}\n`,
);
console.log('| task | region | planned peak | measured peak RSS | time |');
console.log('| --- | --- | --- | --- | --- |');
const [ingest, first] = plan.stages;
const shard = taskAt(ingest, 0) as Task & { chunk_position: string; mips?: number };
const shardMips = shard.mips ?? 1;
const shardRegion = parseChunkKey(shard.chunk_position);
// Every stage but the measured one runs here (one thread); the measured tasks run again alone.
for (const stage of plan.stages) {
  const summary = await runPlan({ ...plan, stages: [stage] }, runTask, { concurrency: 1, progress: false });
  if (summary.dead.length) throw new Error(`${stage.name}: ${summary.dead[0].error}`);
}
const s = digest(['task', JSON.stringify(shard)]);
console.log(
  `| Shard, mip${shardMips > 1 ? `s 0-${shardMips - 1}` : ' 0'} from build chunks | ${shapeOf(shardRegion).join('x')} | ${mib(shardMips > 1 ? shardLevelsPeakBytes(info, shardMips - 1, shardLevelRegions(volume, 0, shardMips, shardRegion, 'bench').at(-1)!, BUILD) : shardPeakBytes(info, 0, shardRegion, BUILD, false))} | ${mib(s.rss)} | ${s.seconds.toFixed(1)} s |`,
);
const down = [...stageTasks(first)][0].task as Task & { chunk_path: string; mips?: number };
const level = chooseLevels(info, shardMips, 2 * 2 ** 30);
const d = digest(['task', JSON.stringify(down)]);
console.log(
  `| Downsample ${first.name} | ${shapeOf(parseChunkKey(down.chunk_path.split('/')[1])).join('x')} at mip ${level.top} | ${mib(level.peakBytes)} | ${mib(d.rss)} | ${d.seconds.toFixed(1)} s |`,
);
