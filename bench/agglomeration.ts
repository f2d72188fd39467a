// Benchmark: agglomeration quality on the demo's synthetic volume (adapted Rand error and variation of
// information against the generator's true cells, watershed vs segmentation_<t> at a few thresholds),
// and how large a region graph the one-task agglomeration holds (time and memory per edge).
//   node --expose-gc dist/bench/agglomeration.js [--size 256,256,128] [--threads N] [--edges 1000000,4000000] [--scale-only]
import { rm } from 'node:fs/promises';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { agglomerate } from '../affinities/agglomerate.js';
import { decodeGraph, GraphEdge } from '../affinities/mean-graph.js';
import { DEFAULT_CONFIG } from '../runtime/config.js';
import { DEMO_AGGLOMERATION_THRESHOLD, runDemo } from '../demo/demo.js';
import { createTaskPool } from '../runtime/pool.js';
import { synthesize } from '../demo/synthetic.js';
import { box, Vec3 } from '../common/box.js';
import { scaleBounds } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { remapInPlace } from '../tasks/agglomerate.js';
import { GRAPH_FILE } from '../tasks/mean-graph.js';

const { values } = parseArgs({
  options: { size: { type: 'string' }, threads: { type: 'string' }, edges: { type: 'string' }, dir: { type: 'string' }, 'scale-only': { type: 'boolean' } },
});
const size = (values.size ?? '256,256,128').split(',').map(Number) as Vec3;
const threads = Number(values.threads ?? availableParallelism());
const edgeCounts = (values.edges ?? '1000000,4000000').split(',').map(Number);
const dir = values.dir ?? '/tmp/digest-bench-agglomeration';

/** Adapted Rand error and VOI (split, merge; bits) of `seg` against `truth`, over voxels where truth != 0. */
export function scores(truth: BigUint64Array, seg: BigUint64Array): { are: number; voiSplit: number; voiMerge: number } {
  const joint = new Map<string, number>(),
    t = new Map<bigint, number>(),
    s = new Map<bigint, number>();
  let n = 0;
  for (let i = 0; i < truth.length; i++) {
    if (truth[i] === 0n) continue;
    n++;
    const k = `${truth[i]},${seg[i]}`;
    joint.set(k, (joint.get(k) ?? 0) + 1);
    t.set(truth[i], (t.get(truth[i]) ?? 0) + 1);
    s.set(seg[i], (s.get(seg[i]) ?? 0) + 1);
  }
  const sq = (m: Iterable<number>) => {
    let x = 0;
    for (const v of m) x += v * v;
    return x;
  };
  const sumJoint = sq(joint.values()),
    sumT = sq(t.values()),
    sumS = sq(s.values());
  const precision = sumJoint / sumS,
    recall = sumJoint / sumT;
  const h = (m: Iterable<number>) => {
    let x = 0;
    for (const v of m) x -= (v / n) * Math.log2(v / n);
    return x;
  };
  const hJoint = h(joint.values()),
    hT = h(t.values()),
    hS = h(s.values());
  return { are: 1 - (2 * precision * recall) / (precision + recall), voiSplit: hJoint - hT, voiMerge: hJoint - hS };
}

async function main(): Promise<void> {
  const say = (line: string) => console.log(line);
  say(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; threads ${threads}`);
  if (values['scale-only']) {
    await scale(say);
    return;
  }
  await rm(dir, { recursive: true, force: true });
  const pool = createTaskPool({ ...DEFAULT_CONFIG, threads, backend: 'cpu' });
  let started = performance.now();
  const result = await runDemo({ out: dir, size, execute: (t) => pool.run(t), concurrency: 2 * threads, progress: false }).finally(() => pool.close());
  if (result.summary.dead.length) throw new Error(`bench: ${result.summary.dead.length} demo tasks failed`);
  say(`demo ${size.join('x')} (incl. agglomeration at ${DEMO_AGGLOMERATION_THRESHOLD}): ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const watershed = await Volume.open(result.watershedLayer);
  const ws = (await watershed.read(0, scaleBounds(watershed.scale(0)))) as BigUint64Array;
  const truth = synthesize(box([0, 0, 0], size)).labels;
  const edges = decodeGraph((await watershed.store.get(GRAPH_FILE))!, GRAPH_FILE);
  say('');
  say(`| segmentation | adapted Rand error | VOI split | VOI merge | segments |`);
  say(`| --- | --- | --- | --- | --- |`);
  const row = (name: string, seg: BigUint64Array) => {
    const r = scores(truth, seg);
    say(`| ${name} | ${r.are.toFixed(4)} | ${r.voiSplit.toFixed(3)} | ${r.voiMerge.toFixed(3)} | ${new Set(seg).size - (seg.includes(0n) ? 1 : 0)} |`);
  };
  row('watershed (per task)', ws);
  for (const t of [0.2, 0.4, 0.5, DEMO_AGGLOMERATION_THRESHOLD, 0.7, 0.8]) {
    const seg = BigUint64Array.from(ws);
    remapInPlace(seg, agglomerate(edges, t).mapping);
    row(`segmentation_${t}${t === DEMO_AGGLOMERATION_THRESHOLD ? ' (demo)' : ''}`, seg);
  }

  await scale(say);
  say('');
  say(`peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB; the demo's layers are in ${join(dir, 'layers')}`);
}

/** How large a region graph one Agglomerate task holds: time and memory per edge. */
async function scale(say: (line: string) => void): Promise<void> {
  // Scale: region graphs shaped like a watershed's (each fragment touches its neighbours in space):
  // fragments on a cube grid, an edge to each of the +x, +y, +z neighbours (about 3 per label), means
  // uniform in [0, 1] over 1-50 voxel edges.
  say('');
  say('| region graph | agglomerate | heap for the graph + agglomeration | bytes per edge |');
  say('| --- | --- | --- | --- |');
  for (const count of edgeCounts) {
    let seed = 7;
    const random = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const side = Math.max(2, Math.round(Math.cbrt(count / 3)));
    const labels = side ** 3;
    const graph: GraphEdge[] = [];
    const id = (x: number, y: number, z: number) => BigInt(1 + x + side * (y + side * z));
    for (let z = 0; z < side; z++)
      for (let y = 0; y < side; y++)
        for (let x = 0; x < side; x++) {
          for (const [dx, dy, dz] of [
            [1, 0, 0],
            [0, 1, 0],
            [0, 0, 1],
          ]) {
            if (x + dx >= side || y + dy >= side || z + dz >= side) continue;
            const n = 1 + Math.floor(random() * 50);
            graph.push({ a: id(x, y, z), b: id(x + dx, y + dy, z + dz), sum: n * random(), count: n });
          }
        }
    (globalThis as { gc?: () => void }).gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    const r = agglomerate(graph, 0.5);
    const seconds = (performance.now() - started) / 1000;
    const heap = process.memoryUsage().heapUsed - heapBefore;
    say(
      `| ${graph.length.toLocaleString('en')} edges, ${labels.toLocaleString('en')} labels | ${seconds.toFixed(1)} s (${(count / seconds / 1e6).toFixed(2)} M edges/s), ${r.merges.toLocaleString('en')} merges | ${(heap / 2 ** 20).toFixed(0)} MiB above the input graph | ${(heap / graph.length).toFixed(0)} |`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
