// Benchmark: each kernel on the cpu and the gpu backend, on one synthetic volume per size (default
// 256^3 and 512^3). gpu times include upload, renumbering to chunk-local ids where the kernel needs
// it, and readback: the whole call as a task sees it. Prints a markdown table for bench/RESULTS.md.
//   node dist/bench/kernels.js [--sizes 256,512]      (the gpu backend needs an X display: xvfb-run)
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { synthesize } from '../engine/synthetic.js';
import { cpuKernels, gpuKernels, Kernels } from '../kernels/backend.js';
import { openGpu } from '../kernels/gpu/context.js';
import { box, Vec3 } from '../precomputed/box.js';

const { values } = parseArgs({ options: { sizes: { type: 'string' } } });
const sizes = (values.sizes ?? '256,512').split(',').map(Number);

function seconds(fn: () => unknown): number {
  const start = performance.now();
  fn();
  return (performance.now() - start) / 1000;
}

function main(): void {
  const backends: Kernels[] = [cpuKernels];
  let renderer = 'no gpu backend';
  try {
    backends.push(gpuKernels());
    renderer = openGpu().renderer;
  } catch (e) {
    console.error(`gpu backend skipped: ${(e as Error).message}`);
  }
  const lines = [
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; gpu: ${renderer}`,
    '',
    '| kernel | size | ' + backends.map((b) => `${b.name} MVx/s`).join(' | ') + ' |',
    '| --- | --- | ' + backends.map(() => '---').join(' | ') + ' |',
  ];
  // Compile every gpu kernel once on a small volume, so the timings below are steady-state.
  const warm = synthesize(box([0, 0, 0], [16, 16, 16]));
  for (const k of backends) runAll(k, warm.image, warm.labels, [16, 16, 16]);
  for (const size of sizes) {
    const shape: Vec3 = [size, size, size];
    const { image, labels } = synthesize(box([0, 0, 0], shape));
    const results = backends.map((k) => runAll(k, image, labels, shape));
    for (const name of Object.keys(results[0])) {
      const row = results.map((r) => (size ** 3 / 1e6 / r[name]).toFixed(1));
      lines.push(`| ${name} | ${size}^3 | ${row.join(' | ')} |`);
      console.error(lines.at(-1));
    }
  }
  lines.push('', `peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`);
  console.log(lines.join('\n'));
}

function runAll(k: Kernels, image: Uint8Array, labels: BigUint64Array, shape: Vec3): Record<string, number> {
  const n = shape[0] * shape[1] * shape[2];
  const affinities = new Float32Array(3 * n);
  for (let i = 0; i < affinities.length; i++) affinities[i] = ((i * 2654435761) >>> 8) / 2 ** 24;
  const mask = new Uint8Array(n);
  const target = labels[n >> 1];
  for (let i = 0; i < n; i++) mask[i] = labels[i] === target ? 1 : 0;
  return {
    'average downsample uint8 2x2x2': seconds(() => k.averageDownsample({ data: image, shape, channels: 1, factor: [2, 2, 2] })),
    'mode downsample uint64 2x2x2': seconds(() => k.modeDownsample({ data: labels, shape, channels: 1, factor: [2, 2, 2] })),
    'boundary affinities (3 channels)': seconds(() => k.boundaryAffinities({ labels, affinities, shape })),
    'marching-cubes scan (one label)': seconds(() => k.marchingCubesScan(mask, shape)),
  };
}

main();
