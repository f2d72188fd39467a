// Benchmark: mean-affinity agglomeration, digest's agglomerateBlock against a peer's, side by side on one
// thread, each run in a fresh process, alternating rounds, medians. The input is the demo generator's
// affinities over a cube (moved by up to --noise for many small fragments), segmented by digest's
// watershed in one call (dense labels 1..n, as the peer needs). digest agglomerates the chunk graph of
// the whole cube (as MeanGraph writes it); the peer builds its own region graph from the same labels
// and affinities, untimed. The peer is a program given by --peer (built apart, never in this
// repository) called as
//   PEER labels.u64 aff.f32 sx sy sz threshold [roots.u64]
// that prints "E edges, M merges in S s, peak +K KiB, graph +G KiB" (K: its peak RSS during the
// merging over its RSS before it; G: what its region graph holds, RSS after making it over RSS with
// the volumes alone) and writes each fragment's region as uint64 (index = fragment). digest's child
// process reports the same two (G: RSS with the decoded graph over RSS before reading it). This
// checks that both made the same partition of the fragments.
//   node dist/bench/agglomeration-peer.js --peer /tmp/waterz-agg/agg [--size 256] [--rounds 5] [--threshold 0.5] [--noise 0.3] [--dir D]
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { agglomerateBlock } from '../affinities/agglomerate.js';
import { chunkGraphs } from '../affinities/mean-graph.js';
import { decodeRegionGraph, encodeRegionGraph } from '../affinities/region-graph.js';
import { watershed } from '../affinities/watershed.js';
import { box, Vec3 } from '../common/box.js';
import { DEMO_WATERSHED } from '../demo/demo.js';
import { synthesizeAffinities } from '../demo/synthetic.js';
import { seededRandom } from '../test/reference.js';

const { values } = parseArgs({
  options: {
    peer: { type: 'string' },
    size: { type: 'string' },
    rounds: { type: 'string' },
    threshold: { type: 'string' },
    noise: { type: 'string' },
    dir: { type: 'string' },
    child: { type: 'string' },
    names: { type: 'string' },
  },
});
const threshold = Number(values.threshold ?? 0.5);
interface Run {
  edges: number;
  merges: number;
  seconds: number;
  peakKiB: number;
  graphKiB: number;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A line of /proc/self/status in KiB. */
function procStatus(key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** The child: one agglomeration of the graph file, timed, with its peak memory over what the process held before. */
function digestRun(file: string): Run {
  global.gc?.();
  const start = procStatus('VmRSS');
  const graph = decodeRegionGraph(readFileSync(file), file, 'chunk');
  const edges = graph.edges.length;
  global.gc?.();
  const rss = procStatus('VmRSS');
  const t0 = performance.now();
  const result = agglomerateBlock([{ graph, outer: 0, key: 0n }], threshold, true);
  const seconds = (performance.now() - t0) / 1000;
  const peakKiB = procStatus('VmHWM') - rss;
  if (values.names) {
    const [names] = result.names;
    const pairs = new BigUint64Array(2 * names.from.length);
    for (let i = 0; i < names.from.length; i++) [pairs[2 * i], pairs[2 * i + 1]] = [names.from[i], names.to[i]];
    writeFileSync(values.names, new Uint8Array(pairs.buffer));
  }
  return { edges, merges: result.merges, seconds, peakKiB, graphKiB: rss - start };
}

/** Each fragment's group named by its smallest fragment: equal arrays mean equal partitions. */
function canonical(regionOf: (fragment: number) => number, fragments: number): Uint32Array {
  const smallest = new Map<number, number>();
  const out = new Uint32Array(fragments + 1);
  for (let f = 1; f <= fragments; f++) {
    const r = regionOf(f);
    if (!smallest.has(r)) smallest.set(r, f);
    out[f] = smallest.get(r)!;
  }
  return out;
}

async function main(): Promise<void> {
  if (values.child) {
    console.log(JSON.stringify(digestRun(values.child)));
    return;
  }
  const peer = values.peer ?? '';
  if (!peer) throw new Error('agglomeration-peer: --peer PROGRAM is required');
  const size = Number(values.size ?? 256);
  const rounds = Number(values.rounds ?? 5);
  const noise = Number(values.noise ?? 0.3);
  const dir = values.dir ?? '/tmp/digest-bench-agglomeration-peer';
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; one thread each`);
  const shape: Vec3 = [size, size, size];
  const whole = box([0, 0, 0], shape);
  const affinities = synthesizeAffinities(whole);
  const random = seededRandom(11);
  if (noise > 0) for (let i = 0; i < affinities.length; i++) affinities[i] = Math.min(1, Math.max(0, affinities[i] + (2 * random() - 1) * noise));
  const p = DEMO_WATERSHED;
  // No size merge and no dust: the fragments the agglomeration starts from, as waterz's users give it.
  const ws = watershed(affinities, shape, { high: p.high_threshold, low: p.low_threshold, mergeThreshold: p.merge_threshold, mergeSize: 0, dustSize: 0 });
  const labels = BigUint64Array.from(ws.labels, (l) => BigInt(l));
  await mkdir(dir, { recursive: true });
  const file = (name: string) => join(dir, name);
  await writeFile(file('labels.u64'), new Uint8Array(labels.buffer));
  await writeFile(file('aff.f32'), new Uint8Array(affinities.buffer));
  const [graph] = chunkGraphs({ labels, affinities, box: whole, chunks: [whole], bounds: whole });
  await writeFile(file('graph.bin'), encodeRegionGraph(graph));
  const self = fileURLToPath(import.meta.url);
  const ours: Run[] = [],
    theirs: Run[] = [];
  for (let r = 0; r < rounds; r++) {
    const last = r === rounds - 1;
    const mine = execFileSync(
      process.execPath,
      ['--expose-gc', self, '--child', file('graph.bin'), '--threshold', String(threshold), ...(last ? ['--names', file('names.u64')] : [])],
      {
        encoding: 'utf8',
      },
    );
    ours.push(JSON.parse(mine));
    const out = execFileSync(peer, [file('labels.u64'), file('aff.f32'), ...shape.map(String), String(threshold), ...(last ? [file('roots.u64')] : [])], {
      encoding: 'utf8',
    });
    const m = /(\d+) edges, (\d+) merges in ([\d.]+) s, peak \+(\d+) KiB, graph \+(\d+) KiB/.exec(out);
    if (!m) throw new Error(`agglomeration-peer: the peer printed ${out}`);
    theirs.push({ edges: Number(m[1]), merges: Number(m[2]), seconds: Number(m[3]), peakKiB: Number(m[4]), graphKiB: Number(m[5]) });
  }
  // The same partition of the fragments.
  const pairs = new BigUint64Array((await readFile(file('names.u64'))).buffer.slice(0));
  const region = new Float64Array(ws.count + 1).map((_, i) => i);
  for (let i = 0; i < pairs.length; i += 2) region[Number(pairs[i])] = Number(pairs[i + 1]);
  const roots = new BigUint64Array((await readFile(file('roots.u64'))).buffer.slice(0));
  const a = canonical((f) => region[f], ws.count),
    b = canonical((f) => Number(roots[f]), ws.count);
  let differ = 0;
  for (let f = 1; f <= ws.count; f++) if (a[f] !== b[f]) differ++;
  const d = ours.at(-1)!,
    w = theirs.at(-1)!;
  const dt = median(ours.map((x) => x.seconds)),
    wt = median(theirs.map((x) => x.seconds));
  const dm = median(ours.map((x) => x.peakKiB)),
    wm = median(theirs.map((x) => x.peakKiB));
  const dg = median(ours.map((x) => x.graphKiB)),
    wg = median(theirs.map((x) => x.graphKiB));
  const mib = (kib: number) => (kib / 1024).toFixed(0);
  const perEdge = (kib: number, edges: number) => ((kib * 1024) / edges).toFixed(0);
  console.log(
    `${size}^3 watershed (noise ${noise}), ${ws.count} fragments, threshold ${threshold}: digest ${d.edges} edges, ${d.merges} merges; peer ${w.edges} edges, ${w.merges} merges; fragments in a different group: ${differ}`,
  );
  console.log(
    `digest ${dt.toFixed(2)} s, graph ${mib(dg)} MiB + merging ${mib(dm)} MiB (${perEdge(dg + dm, d.edges)} B an edge); peer ${wt.toFixed(2)} s, graph ${mib(wg)} MiB + merging ${mib(wm)} MiB (${perEdge(wg + wm, w.edges)} B an edge); peer/digest speed ${(wt / dt).toFixed(2)}, digest/peer memory ${((dg + dm) / (wg + wm)).toFixed(2)}`,
  );
  console.log(`rounds: digest ${ours.map((x) => x.seconds.toFixed(2)).join(', ')}; peer ${theirs.map((x) => x.seconds.toFixed(2)).join(', ')}`);
  if (differ > 0) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
