// Benchmark: the mean-affinity region graph, digest's MeanGraph kernel against a peer's, side by side on
// one thread: the demo generator's affinities over a cube, segmented by digest's watershed in one
// call (dense labels 1..n, as the peer needs), then in alternating rounds digest's chunk graph of the
// whole cube (uint64 labels, as MeanGraph tasks read them) and the peer's region graph. The peer is a
// program given by --peer (built apart, never in this repository) called as
//   PEER labels.u64 aff.f32 sx sy sz 1 [edges.txt]
// that prints "... N edges in S s" and writes "a b mean" lines; this checks both found the same
// pairs and means (the peer's are float32 running means). Medians of --rounds.
//   node dist/bench/mean-graph-peer.js --peer /tmp/waterz-rg/rg [--size 256] [--rounds 5] [--merge-size N] [--dust-size N] (the watershed's) [--noise A (affinities moved by up to A)] [--dir D]
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { seededRandom } from '../test/reference.js';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chunkGraphs } from '../affinities/mean-graph.js';
import { watershed } from '../affinities/watershed.js';
import { box, Vec3 } from '../common/box.js';
import { DEMO_WATERSHED } from '../demo/demo.js';
import { synthesizeAffinities } from '../demo/synthetic.js';

const { values } = parseArgs({
  options: {
    peer: { type: 'string' },
    size: { type: 'string' },
    rounds: { type: 'string' },
    dir: { type: 'string' },
    'merge-size': { type: 'string' },
    'dust-size': { type: 'string' },
    noise: { type: 'string' },
  },
});
const peer: string = values.peer ?? '';
if (!peer) throw new Error('mean-graph-peer: --peer PROGRAM is required');
const size = Number(values.size ?? 256);
const rounds = Number(values.rounds ?? 5);
const dir = values.dir ?? '/tmp/digest-bench-mean-graph-peer';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; one thread each`);
  const shape: Vec3 = [size, size, size];
  const whole = box([0, 0, 0], shape);
  const affinities = synthesizeAffinities(whole);
  // --noise a: each affinity moved by up to a (clipped to [0, 1]): many more, smaller fragments.
  const noise = Number(values.noise ?? 0);
  const random = seededRandom(11);
  if (noise > 0) for (let i = 0; i < affinities.length; i++) affinities[i] = Math.min(1, Math.max(0, affinities[i] + (2 * random() - 1) * noise));
  const p = DEMO_WATERSHED;
  const ws = watershed(affinities, shape, {
    high: p.high_threshold,
    low: p.low_threshold,
    mergeThreshold: p.merge_threshold,
    mergeSize: p.merge_size,
    dustSize: Number(values['dust-size'] ?? p.dust_size),
  });
  const labels = BigUint64Array.from(ws.labels, (l) => BigInt(l));
  await mkdir(dir, { recursive: true });
  const labelsFile = join(dir, 'labels.u64'),
    affFile = join(dir, 'aff.f32'),
    edgesFile = join(dir, 'edges.txt');
  await writeFile(labelsFile, new Uint8Array(labels.buffer));
  await writeFile(affFile, new Uint8Array(affinities.buffer));
  const ours: number[] = [],
    theirs: number[] = [];
  let graph;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    [graph] = chunkGraphs({ labels, affinities, box: whole, chunks: [whole], bounds: whole });
    ours.push((performance.now() - t0) / 1000);
    const out = execFileSync(peer, [labelsFile, affFile, ...shape.map(String), '1', ...(r === rounds - 1 ? [edgesFile] : [])], { encoding: 'utf8' });
    const m = /(\d+) edges in ([\d.]+) s/.exec(out);
    if (!m) throw new Error(`mean-graph-peer: the peer printed ${out}`);
    theirs.push(Number(m[2]));
  }
  // The same pairs, the same means.
  const e = graph!.edges;
  const means = new Map<string, number>();
  for (let i = 0; i < e.length; i++) means.set(`${e.a[i]} ${e.b[i]}`, (e.whole[i] + e.fraction[i] / 2 ** 32) / e.count[i]);
  const lines = (await readFile(edgesFile, 'utf8')).trim().split('\n');
  let worst = 0;
  for (const line of lines) {
    const [a, b, mean] = line.split(' ');
    const mine = means.get(BigInt(a) < BigInt(b) ? `${a} ${b}` : `${b} ${a}`);
    if (mine === undefined) throw new Error(`mean-graph-peer: the peer has edge ${a}-${b}, digest has not`);
    worst = Math.max(worst, Math.abs(mine - Number(mean)));
  }
  if (lines.length !== e.length) throw new Error(`mean-graph-peer: ${lines.length} peer edges, ${e.length} digest edges`);
  const d = median(ours),
    w = median(theirs);
  console.log(
    `${size}^3 watershed, ${ws.count} segments, ${e.length} edges (the same pairs; largest mean difference ${worst.toExponential(1)}): digest ${d.toFixed(2)} s (${(size ** 3 / 1e6 / d).toFixed(1)} MVx/s), peer ${w.toFixed(2)} s; digest/peer time ${(d / w).toFixed(2)} (rounds: digest ${ours.map((x) => x.toFixed(2)).join(', ')}; peer ${theirs.map((x) => x.toFixed(2)).join(', ')})`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
