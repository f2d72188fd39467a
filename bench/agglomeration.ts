// Benchmark: agglomeration quality on the demo's synthetic volume (adapted Rand error and variation of
// information against the generator's true cells, watershed vs segmentation_<t> at a few thresholds),
// and the region graph's bytes per edge, binary and as JSON (bench/agglomeration-scale.ts has the scale).
//   node dist/bench/agglomeration.js [--size 256,256,128] [--threads N]
import { rm } from 'node:fs/promises';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { agglomerateTree } from '../affinities/block-tree.js';
import { decodeRegionGraph, RegionGraph } from '../affinities/region-graph.js';
import { mergedEdges } from '../affinities/mean-graph.js';
import { DEFAULT_CONFIG } from '../runtime/config.js';
import { DEMO_AGGLOMERATION_THRESHOLD, runDemo } from '../demo/demo.js';
import { createTaskPool } from '../runtime/pool.js';
import { synthesize } from '../demo/synthetic.js';
import { box, Vec3 } from '../common/box.js';
import { scaleBounds } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { remapInPlace } from '../tasks/agglomerate.js';
import { chunkGraphKey } from '../tasks/mean-graph.js';
import { chunkBox, gridShape } from '../precomputed/info.js';

const { values } = parseArgs({
  options: { size: { type: 'string' }, threads: { type: 'string' }, dir: { type: 'string' } },
});
const size = (values.size ?? '256,256,128').split(',').map(Number) as Vec3;
const threads = Number(values.threads ?? availableParallelism());
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
  await rm(dir, { recursive: true, force: true });
  const pool = createTaskPool({ ...DEFAULT_CONFIG, threads, backend: 'cpu' });
  let started = performance.now();
  const result = await runDemo({ out: dir, size, execute: (t) => pool.run(t), concurrency: 2 * threads, progress: false }).finally(() => pool.close());
  if (result.summary.dead.length) throw new Error(`bench: ${result.summary.dead.length} demo tasks failed`);
  say(`demo ${size.join('x')} (incl. agglomeration at ${DEMO_AGGLOMERATION_THRESHOLD}): ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const watershed = await Volume.open(result.watershedLayer);
  const ws = (await watershed.read(0, scaleBounds(watershed.scale(0)))) as BigUint64Array;
  const truth = synthesize(box([0, 0, 0], size)).labels;
  // The chunk graphs MeanGraph wrote, agglomerated in one block (the demo's blockwise mapping is the same).
  const grid = gridShape(watershed.scale(0));
  const graphs = new Map<string, RegionGraph>();
  for (let z = 0; z < grid[2]; z++)
    for (let y = 0; y < grid[1]; y++)
      for (let x = 0; x < grid[0]; x++) {
        const key = chunkGraphKey(chunkBox(watershed.scale(0), [x, y, z]));
        graphs.set(`${[x, y, z]}`, decodeRegionGraph((await watershed.store.get(key))!, key, 'chunk'));
      }
  let binaryBytes = 0;
  for (let z = 0; z < grid[2]; z++)
    for (let y = 0; y < grid[1]; y++)
      for (let x = 0; x < grid[0]; x++) binaryBytes += (await watershed.store.get(chunkGraphKey(chunkBox(watershed.scale(0), [x, y, z]))))!.length;
  const merged = mergedEdges([...graphs.values()]);
  const chunkEdges = [...graphs.values()].reduce((n, g) => n + g.edges.length, 0);
  const jsonBytes = merged.reduce((n, e) => {
    const sum = e.whole + e.fraction / 2 ** 32;
    return n + `["${e.a}","${e.b}",${sum},${e.count},${sum / e.count}],\n`.length;
  }, 0);
  say('');
  say(
    `region graph: ${chunkEdges} chunk-graph edges (${merged.length} pairs); binary chunk graphs ${binaryBytes} bytes (${(binaryBytes / chunkEdges).toFixed(1)} per edge, regions and headers included); as JSON (digest graph export) ${jsonBytes} bytes (${(jsonBytes / merged.length).toFixed(1)} per edge)`,
  );
  const mappingAt = (t: number) => {
    const mapping = new Map<bigint, bigint>();
    for (const s of agglomerateTree({ grid, leaf: Math.max(...grid) }, (cell) => graphs.get(`${cell}`)!, t).values())
      s.from.forEach((l, i) => mapping.set(l, s.to[i]));
    return mapping;
  };
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
    remapInPlace(seg, mappingAt(t));
    row(`segmentation_${t}${t === DEMO_AGGLOMERATION_THRESHOLD ? ' (demo)' : ''}`, seg);
  }

  say('');
  say(`peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB; the demo's layers are in ${join(dir, 'layers')}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
