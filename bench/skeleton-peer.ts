// Benchmark: digest's TEASAR (skeletons/teasar.ts) against kimimaro's, side by side on one thread over
// the same labels, in alternating rounds, each run in a fresh process (so its peak RSS is its own).
// The peer is a program given by --peer (built apart from kimimaro's, dijkstra3d's and edt's public
// C++ sources, never in this repository: bench/RESULTS.md says how), called as
//   PEER labels.u32 sx sy sz wx wy wz scale const pdrf_scale pdrf_exponent dust fix_branching
// which skeletonizes every 26-connected piece of every label as kimimaro's intake.py and trace.py do
// (cc labels, one multi-label EDT, per piece: root, DAF, PDRF, paths, invalidation balls) and prints
// one JSON line {seconds, peakMiB, pieces, vertices, edges, length}. digest's side prints the same.
// Both see the region's faces as open (kimimaro's black_border=False) and the same parameters.
//   node dist/bench/skeleton-peer.js --peer /tmp/kp/build/teasar_core [--input cells|tubes] [--size 256] [--rounds 3]
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { box, Vec3 } from '../common/box.js';
import { synthesize } from '../demo/synthetic.js';
import { DEFAULT_TEASAR, skeletonize } from '../skeletons/teasar.js';

const { values } = parseArgs({
  options: {
    peer: { type: 'string' },
    input: { type: 'string' },
    size: { type: 'string' },
    rounds: { type: 'string' },
    dir: { type: 'string' },
    anisotropy: { type: 'string' },
    child: { type: 'string' },
  },
});
const size = Number(values.size ?? 256);
const shape: Vec3 = [size, size, size];
const anisotropy = (values.anisotropy ?? '8,8,8').split(',').map(Number) as Vec3;
const params = DEFAULT_TEASAR;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

interface Result {
  seconds: number;
  peakMiB: number;
  pieces: number;
  vertices: number;
  edges: number;
  length: number;
}

/** Tubes of radius 3-8 voxels along random straight lines through the cube, one label each: neurites. */
function tubes(n: number): Uint32Array {
  const out = new Uint32Array(n ** 3);
  let seed = 12345;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let label = 1; label <= Math.round(n / 8); label++) {
    const a = [random(), random(), random()].map((t) => t * n);
    const b = [random(), random(), random()].map((t) => t * n);
    const r = 3 + 5 * random();
    const ab = [0, 1, 2].map((d) => b[d] - a[d]);
    const ab2 = ab.reduce((s, x) => s + x * x, 0);
    for (let z = 0; z < n; z++)
      for (let y = 0; y < n; y++)
        for (let x = 0; x < n; x++) {
          const p = [x + 0.5 - a[0], y + 0.5 - a[1], z + 0.5 - a[2]];
          const t = Math.max(0, Math.min(1, (p[0] * ab[0] + p[1] * ab[1] + p[2] * ab[2]) / ab2));
          const d2 = (p[0] - t * ab[0]) ** 2 + (p[1] - t * ab[1]) ** 2 + (p[2] - t * ab[2]) ** 2;
          if (d2 <= r * r) out[x + n * (y + n * z)] = label;
        }
  }
  return out;
}

/** The demo's cells, relabelled 1..k (uint32, as the peer reads them). */
function cells(n: number): Uint32Array {
  const labels = synthesize(box([0, 0, 0], [n, n, n])).labels;
  const ids = new Map<bigint, number>([[0n, 0]]);
  return Uint32Array.from(labels, (l) => ids.get(l) ?? (ids.set(l, ids.size), ids.size - 1));
}

function digestRun(file: string): Result {
  const labels = new Uint32Array(readFileSync(file).buffer);
  const start = performance.now();
  const skeletons = skeletonize(labels, shape, anisotropy, params, new Set(), [true, true, true, true, true, true]);
  const seconds = (performance.now() - start) / 1000;
  let vertices = 0,
    edges = 0,
    length = 0;
  for (const s of skeletons.values()) {
    vertices += s.vertices.length / 3;
    edges += s.edges.length / 2;
    for (let e = 0; e < s.edges.length; e += 2) {
      const [a, b] = [3 * s.edges[e], 3 * s.edges[e + 1]];
      length += Math.hypot(...[0, 1, 2].map((d) => (s.vertices[a + d] - s.vertices[b + d]) * anisotropy[d]));
    }
  }
  // (Pieces: a label's skeleton holds all its pieces; count trees instead, vertices - edges without loops.)
  return { seconds, peakMiB: process.resourceUsage().maxRSS / 1024, pieces: skeletons.size, vertices, edges, length };
}

function main(): void {
  if (values.child) {
    console.log(JSON.stringify(digestRun(values.child)));
    return;
  }
  const peer = values.peer ?? '';
  if (!peer) throw new Error('skeleton-peer: --peer PROGRAM is required');
  const rounds = Number(values.rounds ?? 3);
  const input = values.input ?? 'cells';
  const dir = values.dir ?? '/tmp/digest-bench-skeleton-peer';
  mkdirSync(dir, { recursive: true });
  const labels = input === 'tubes' ? tubes(size) : cells(size);
  const file = join(dir, `${input}-${size}.u32`);
  writeFileSync(file, new Uint8Array(labels.buffer));
  const count = new Set(labels).size - 1;
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; one thread each`);
  console.log(
    `input: ${input} ${size}^3 at ${anisotropy.join('x')} nm, ${count} labels; scale ${params.scale}, const ${params.const}, pdrf ${params.pdrfScale}^${params.pdrfExponent}, dust ${params.dust}`,
  );
  const self = fileURLToPath(import.meta.url);
  const peerArgs = (fix: number) =>
    [file, ...shape, ...anisotropy, params.scale, params.const, params.pdrfScale, params.pdrfExponent, params.dust, fix].map(String);
  const sides: Record<string, () => Result> = {
    digest: () =>
      JSON.parse(execFileSync(process.execPath, [self, '--child', file, '--size', String(size), '--anisotropy', anisotropy.join(',')], { encoding: 'utf8' })),
    'kimimaro, one tree (fix_branching=False)': () => JSON.parse(execFileSync(peer, peerArgs(0), { encoding: 'utf8' })),
    'kimimaro default (fix_branching=True)': () => JSON.parse(execFileSync(peer, peerArgs(1), { encoding: 'utf8' })),
  };
  const runs = new Map<string, Result[]>(Object.keys(sides).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++)
    for (const [name, run] of Object.entries(sides)) {
      const result = run();
      runs.get(name)!.push(result);
      console.error(`round ${r + 1} ${name}: ${JSON.stringify(result)}`);
    }
  const digestSeconds = median(runs.get('digest')!.map((x) => x.seconds));
  console.log('\n| side | time (median) | digest / side | peak RSS | vertices | edges | path length (µm) |\n| --- | --- | --- | --- | --- | --- | --- |');
  for (const [name, results] of runs) {
    const seconds = median(results.map((x) => x.seconds));
    const last = results[results.length - 1];
    const ratio = name === 'digest' ? '' : (digestSeconds / seconds).toFixed(2);
    console.log(
      `| ${name} | ${seconds.toFixed(2)} s | ${ratio} | ${median(results.map((x) => x.peakMiB)).toFixed(0)} MiB | ${last.vertices} | ${last.edges} | ${(last.length / 1000).toFixed(1)} |`,
    );
  }
}

main();
