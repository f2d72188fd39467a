// Benchmark: the blockwise agglomeration's scale. A synthetic watershed-shaped region graph, fragments
// on a cube grid (each touching its -x, -y and -z neighbours: about 3 edges a fragment, 1-50 voxel
// edges each, means uniform in [0, 1]), stored as MeanGraph's chunk graphs (one fragment = one voxel
// of a layer whose chunks hold `--chunk`^3 fragments), then the plan's agglomeration stages (block
// levels up, names down, mapping shards) run as tasks through the worker pool on file:// storage.
// Prints per stage its time and the bytes it wrote, the largest file, and the peak RSS of the whole
// process (every worker thread included: no task can have used more).
//   node dist/bench/agglomeration-scale.js --edges 100000000 [--chunk 16] [--block 2] [--threads 2] [--threshold 0.5] [--dir D]
import { readdir, rm, stat } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { emptyEdges, emptyRegions, encodeRegionGraph, RegionGraph } from '../affinities/region-graph.js';
import { box, Vec3 } from '../common/box.js';
import { createInfo, chunkBox } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { runPlan } from '../queue/local/run.js';
import { DEFAULT_CONFIG } from '../runtime/config.js';
import { createTaskPool } from '../runtime/pool.js';
import { chunkGraphKey } from '../tasks/mean-graph.js';
import { planAgglomerationTree } from '../tasks/plan/planners.js';
import { stageSize } from '../tasks/plan/format.js';

const { values } = parseArgs({
  options: {
    edges: { type: 'string' },
    chunk: { type: 'string' },
    block: { type: 'string' },
    threads: { type: 'string' },
    threshold: { type: 'string' },
    dir: { type: 'string' },
  },
});
const edges = Number(values.edges ?? 4_000_000);
const c = Number(values.chunk ?? 16);
const threads = Number(values.threads ?? 2);
const threshold = Number(values.threshold ?? 0.5);
const dir = values.dir ?? '/tmp/digest-bench-agglomeration-scale';
const side = Math.max(2, Math.round(Math.cbrt(edges / 3)));
const grid = [0, 1, 2].map(() => Math.ceil(side / c)) as Vec3;
const block = Number(values.block ?? Math.max(...grid));

/** A deterministic pseudo-random number in [0, 1) per (fragment, axis, salt). */
function hash(i: number, axis: number, salt: number): number {
  let h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(axis + 1, 0xc2b2ae35) ^ Math.imul(salt + 7, 0x27d4eb2f);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return (h >>> 0) / 2 ** 32;
}

/** The chunk graph of chunk cell g: its fragments (label = 1 + index in the cube) and the edges it owns. */
function chunkGraph(g: Vec3): RegionGraph {
  const lo = g.map((v) => v * c),
    hi = g.map((v) => Math.min((v + 1) * c, side));
  const label = (x: number, y: number, z: number) => 1 + x + side * (y + side * z);
  const regions = new Map<number, { faces: number; inside: number }>();
  const list: [number, number, number, number][] = [];
  for (let z = lo[2]; z < hi[2]; z++)
    for (let y = lo[1]; y < hi[1]; y++)
      for (let x = lo[0]; x < hi[0]; x++) {
        const p = [x, y, z];
        const me = label(x, y, z);
        let faces = 0;
        for (let d = 0; d < 3; d++) {
          if (p[d] === lo[d] && lo[d] > 0) faces |= 1 << d;
          if (p[d] === hi[d] - 1 && hi[d] < side) faces |= 8 << d;
        }
        regions.set(me, { faces: (regions.get(me)?.faces ?? 0) | faces, inside: 1 });
        for (let d = 0; d < 3; d++) {
          if (p[d] === 0) continue;
          const q = [x, y, z];
          q[d]--;
          const other = label(q[0], q[1], q[2]);
          if (p[d] === lo[d]) regions.set(other, { faces: (regions.get(other)?.faces ?? 0) | (1 << d), inside: regions.get(other)?.inside ?? 0 });
          const count = 1 + Math.floor(hash(me, d, 1) * 50);
          const units = Math.floor(hash(me, d, 2) * count * 2 ** 32);
          list.push([Math.min(me, other), Math.max(me, other), units, count]);
        }
      }
  list.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const e = emptyEdges(list.length);
  list.forEach(([a, b, units, count], i) => {
    e.a[i] = e.tieA[i] = BigInt(a);
    e.b[i] = e.tieB[i] = BigInt(b);
    e.whole[i] = Math.floor(units / 2 ** 32);
    e.fraction[i] = units - e.whole[i] * 2 ** 32;
    e.count[i] = count;
  });
  const labels = [...regions.keys()].sort((a, b) => a - b);
  const r = emptyRegions(labels.length);
  labels.forEach((l, i) => {
    r.label[i] = BigInt(l);
    r.faces[i] = regions.get(l)!.faces;
    r.inside[i] = regions.get(l)!.inside;
  });
  return { kind: 'chunk', edges: e, regions: r };
}

async function bytesUnder(path: string): Promise<{ files: number; bytes: number; largest: number }> {
  let files = 0,
    bytes = 0,
    largest = 0;
  for (const entry of await readdir(path, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (!entry.isFile()) continue;
    const size = (await stat(join(entry.parentPath ?? entry.path, entry.name))).size;
    files++;
    bytes += size;
    largest = Math.max(largest, size);
  }
  return { files, bytes, largest };
}

async function main(): Promise<void> {
  const say = (line: string) => console.log(line);
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  say(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; threads ${threads}`);
  await rm(dir, { recursive: true, force: true });
  const url = `file://${join(dir, 'watershed')}`;
  const layer = await Volume.create(
    url,
    createInfo({ type: 'segmentation', dataType: 'uint64', encoding: 'raw', size: [side, side, side], resolution: [8, 8, 8], chunkSize: [c, c, c], mips: 0 }),
  );
  let started = performance.now();
  let edgeCount = 0,
    graphBytes = 0;
  for (let z = 0; z < grid[2]; z++)
    for (let y = 0; y < grid[1]; y++)
      for (let x = 0; x < grid[0]; x++) {
        const g = chunkGraph([x, y, z]);
        edgeCount += g.edges.length;
        const bytes = encodeRegionGraph(g);
        graphBytes += bytes.length;
        await layer.store.put(chunkGraphKey(chunkBox(layer.scale(0), [x, y, z])), bytes);
      }
  say(
    `graph: ${side}^3 fragments, ${edgeCount.toLocaleString('en')} edges in ${grid.join('x')} chunk graphs of ${c}^3 fragments, ${mib(graphBytes)} (${(graphBytes / edgeCount).toFixed(1)} bytes an edge), made in ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  const plan = await planAgglomerationTree({ segmentationPath: url, threshold, block });
  const pool = createTaskPool({ ...DEFAULT_CONFIG, threads, backend: 'cpu' });
  say('');
  say(`blocks of ${block}^3 chunks, threshold ${threshold}:`);
  say('');
  say('| stage | tasks | time | written | largest file |');
  say('| --- | --- | --- | --- | --- |');
  const total = performance.now();
  try {
    for (const stage of plan.stages) {
      started = performance.now();
      const before = await bytesUnder(join(dir, 'watershed', 'agglomeration'));
      const summary = await runPlan({ ...plan, stages: [stage] }, (t) => pool.run(t), { concurrency: 2 * threads, progress: false });
      if (summary.dead.length) throw new Error(`bench: ${stage.name}: ${summary.dead[0].error}`);
      const after = await bytesUnder(join(dir, 'watershed', 'agglomeration'));
      say(
        `| ${stage.name} | ${stageSize(stage)} | ${((performance.now() - started) / 1000).toFixed(1)} s | ${mib(after.bytes - before.bytes)} in ${after.files - before.files} files | ${mib(after.largest)} |`,
      );
    }
  } finally {
    await pool.close();
  }
  say('');
  say(
    `total ${((performance.now() - total) / 1000).toFixed(0)} s for ${edgeCount.toLocaleString('en')} edges; peak RSS of the process ${mib(process.resourceUsage().maxRSS * 1024)}`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
