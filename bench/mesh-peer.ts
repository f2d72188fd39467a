// Benchmark: digest's chunk mesher against zmesh's marching cubes (zi_lib's, as zmesh vendors it), side
// by side on one thread over the demo generator's cells (uint64, a jittered Voronoi of 24-voxel cells
// with thin membranes): in alternating rounds, digest meshing every label of the cube (one region,
// zero-padded so surfaces close at the border) unsmoothed, the same smoothed as MeshForge tasks mesh,
// and the peer: a program given by --peer (built apart, never in this repository) called as
//   PEER labels.u64 sx sy sz
// on the same cube padded by one zero voxel a side, which meshes every label and welds each label's
// triangles into points and faces (zmesh's path at simplification 0) and prints
// "M meshes T triangles V vertices in S s". Medians of --rounds.
//   node dist/bench/mesh-peer.js --peer /tmp/zmesh-peer/mc [--size 256] [--rounds 5] [--dir D]
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { box, Vec3 } from '../common/box.js';
import { synthesize } from '../demo/synthetic.js';
import { cpuKernels } from '../kernels/backend.js';
import { meshChunk, meshRegion } from '../mesh/chunk-mesher.js';

const { values } = parseArgs({ options: { peer: { type: 'string' }, size: { type: 'string' }, rounds: { type: 'string' }, dir: { type: 'string' } } });
const peer = values.peer ?? '';
if (!peer) throw new Error('mesh-peer: --peer PROGRAM is required');
const size = Number(values.size ?? 256);
const rounds = Number(values.rounds ?? 5);
const dir = values.dir ?? '/tmp/digest-bench-mesh-peer';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; one thread each`);
  const shape: Vec3 = [size, size, size];
  const whole = box([0, 0, 0], shape);
  const cells = synthesize(whole).labels;
  const region = meshRegion(whole, whole); // reads one voxel past each face: zero padding
  const [px, py, pz] = region.readBox.stop.map((e, d) => e - region.readBox.start[d]);
  const padded = new BigUint64Array(px * py * pz);
  for (let z = 0; z < size; z++)
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) padded[x + 1 + px * (y + 1 + py * (z + 1))] = cells[x + size * (y + size * z)];
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'labels.u64');
  await writeFile(file, new Uint8Array(padded.buffer));
  const runs = { raw: [] as number[], smoothed: [] as number[], peer: [] as number[] };
  const counts: Record<string, string> = {};
  const digest = async (smoothing: boolean) => {
    const t0 = performance.now();
    const meshes = await meshChunk({ labels: padded, region, resolution: [1, 1, 1], simplification: 0, smoothing, kernels: cpuKernels });
    const s = (performance.now() - t0) / 1000;
    const triangles = meshes.reduce((n, m) => n + m.mesh.triangles.length / 3, 0);
    const vertices = meshes.reduce((n, m) => n + m.mesh.positions.length / 3, 0);
    counts[smoothing ? 'smoothed' : 'raw'] = `${meshes.length} meshes, ${triangles} triangles, ${vertices} vertices`;
    return s;
  };
  for (let r = 0; r < rounds; r++) {
    runs.raw.push(await digest(false));
    const out = execFileSync(peer, [file, String(px), String(py), String(pz)], { encoding: 'utf8' });
    const m = /(\d+) meshes (\d+) triangles (\d+) vertices in ([\d.]+) s/.exec(out);
    if (!m) throw new Error(`mesh-peer: the peer printed ${out}`);
    counts.peer = `${m[1]} meshes, ${m[2]} triangles, ${m[3]} vertices`;
    runs.peer.push(Number(m[4]));
    runs.smoothed.push(await digest(true));
  }
  const [raw, smoothed, theirs] = [median(runs.raw), median(runs.smoothed), median(runs.peer)];
  const mvx = (s: number) => (size ** 3 / 1e6 / s).toFixed(1);
  console.log(`${size}^3 cells (uint64), medians of ${rounds} rounds:`);
  console.log(`- peer (zi_lib marching cubes + weld): ${theirs.toFixed(2)} s, ${mvx(theirs)} MVx/s; ${counts.peer}`);
  console.log(`- digest unsmoothed: ${raw.toFixed(2)} s, ${mvx(raw)} MVx/s; ${counts.raw}; digest/peer time ${(raw / theirs).toFixed(2)}`);
  console.log(`- digest smoothed (MeshForge's lod 0): ${smoothed.toFixed(2)} s, ${mvx(smoothed)} MVx/s; digest/peer time ${(smoothed / theirs).toFixed(2)}`);
  console.log(
    `rounds: peer ${runs.peer.map((x) => x.toFixed(2)).join(', ')}; digest unsmoothed ${runs.raw.map((x) => x.toFixed(2)).join(', ')}; smoothed ${runs.smoothed.map((x) => x.toFixed(2)).join(', ')}`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
