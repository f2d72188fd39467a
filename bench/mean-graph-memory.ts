// Benchmark: what one MeanGraph task holds. Writes the demo generator's affinities (float32 x 3,
// raw) of a `--size`^3 cube in `--chunk`^3 chunks on file://, and their watershed chunk by chunk
// (uint64, compressed_segmentation, labels unique across chunks, as Watershed tasks write them), then runs `digest task` on MeanGraph tasks of growing boxes (one chunk, then
// 2^3, 4^3 ... chunks up to the cube), each in a fresh process under /usr/bin/time, and prints the
// box, its voxels, edges, time and the process's peak RSS against the bytes its decoded inputs
// take (8 + 12 bytes a voxel).
//   node dist/bench/mean-graph-memory.js [--size 512] [--chunk 128] [--dir D]
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeRegionGraph } from '../affinities/region-graph.js';
import { box, chunkKey, shapeOf, Vec3 } from '../common/box.js';
import { watershed } from '../affinities/watershed.js';
import { DEMO_WATERSHED } from '../demo/demo.js';
import { synthesizeAffinities } from '../demo/synthetic.js';
import { chunksWithin, createInfo } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { chunkGraphKey } from '../tasks/mean-graph.js';

const { values } = parseArgs({ options: { size: { type: 'string' }, chunk: { type: 'string' }, dir: { type: 'string' } } });
const size = Number(values.size ?? 512);
const chunk = Number(values.chunk ?? 128);
const dir = values.dir ?? '/tmp/digest-bench-mean-graph-memory';
const cli = join(import.meta.dirname, '..', 'cli', 'main.js');

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`);
  await rm(dir, { recursive: true, force: true });
  const common = { size: [size, size, size] as Vec3, resolution: [8, 8, 8] as Vec3, chunkSize: [chunk, chunk, chunk] as Vec3, mips: 0 };
  const segUrl = `file://${join(dir, 'watershed')}`,
    affUrl = `file://${join(dir, 'affinities')}`;
  const seg = await Volume.create(
    segUrl,
    createInfo({ ...common, type: 'segmentation', dataType: 'uint64', encoding: 'compressed_segmentation', blockSize: [8, 8, 8] }),
  );
  const aff = await Volume.create(affUrl, createInfo({ ...common, type: 'image', dataType: 'float32', numChannels: 3, encoding: 'raw' }));
  const t0 = performance.now();
  let offset = 0;
  for (const c of chunksWithin(seg.scale(0), seg.bounds(0))) {
    const affinities = synthesizeAffinities(c);
    const p = DEMO_WATERSHED;
    const ws = watershed(affinities, shapeOf(c), {
      high: p.high_threshold,
      low: p.low_threshold,
      mergeThreshold: p.merge_threshold,
      mergeSize: p.merge_size,
      dustSize: p.dust_size,
    });
    await seg.writeChunk(
      0,
      c,
      BigUint64Array.from(ws.labels, (l) => (l === 0 ? 0n : BigInt(l + offset))),
    );
    offset += ws.labels.reduce((m, l) => Math.max(m, l), 0);
    await aff.writeChunk(0, c, affinities);
  }
  console.log(`wrote ${size}^3 in ${chunk}^3 chunks in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  console.log('task box | voxels | edges | time | peak RSS | decoded inputs | RSS / inputs');
  console.log('--- | --- | --- | --- | --- | --- | ---');
  for (let side = chunk; side <= size; side *= 2) {
    const owned = box([0, 0, 0], [side, side, side]);
    const task = { kind: 'mean_graph', chunk_position: chunkKey(owned), layer_path_affinities: affUrl, layer_path_segmentation: segUrl };
    const t = performance.now();
    // /usr/bin/time -f %M prints the peak RSS in KiB as the last line of stderr.
    const run = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, cli, 'task', JSON.stringify(task)], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`digest task ${chunkKey(owned)} failed: ${run.stderr}`);
    const seconds = (performance.now() - t) / 1000;
    const rssKiB = Number(run.stderr.trim().split('\n').at(-1));
    let edges = 0;
    for (const c of chunksWithin(seg.scale(0), owned)) edges += decodeRegionGraph((await seg.store.get(chunkGraphKey(c)))!, 'graph').edges.length;
    const inputs = side ** 3 * 20;
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    console.log(
      `${side}^3 | ${(side ** 3).toLocaleString('en')} | ${edges.toLocaleString('en')} | ${seconds.toFixed(1)} s | ${mib(rssKiB * 1024)} | ${mib(inputs)} | ${((rssKiB * 1024) / inputs).toFixed(2)}`,
    );
  }
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
