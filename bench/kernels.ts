// Benchmark: each kernel on the cpu and the gpu backend, on one synthetic volume per size (default
// 128^3, 256^3 and 512^3), checking that both give the same result. gpu times are the whole call as
// a task sees it: upload in the data's own width, the kernel, readback. Prints a markdown table.
//   node dist/bench/kernels.js [--sizes 128,256,512]
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { synthesize } from '../demo/synthetic.js';
import { cpuKernels, gpuKernels, Kernels, resultBytes } from '../kernels/backend.js';
import { closeGpu } from '../kernels/gpu/device.js';
import { box, Vec3 } from '../common/box.js';

const { values } = parseArgs({ options: { sizes: { type: 'string' } } });
const sizes = (values.sizes ?? '128,256,512').split(',').map(Number);

type Run = { seconds: number; result: unknown };
async function timed(fn: () => Promise<unknown>): Promise<Run> {
  const start = performance.now();
  const result = await fn();
  return { seconds: (performance.now() - start) / 1000, result };
}

async function main(): Promise<void> {
  const backends: Kernels[] = [cpuKernels];
  let adapter = 'no gpu backend';
  try {
    const gpu = await gpuKernels();
    backends.push(gpu);
    adapter = `${gpu.adapter.name}${gpu.adapter.software ? ' (software)' : ''}`;
  } catch (e) {
    console.error(`gpu backend skipped: ${(e as Error).message}`);
  }
  const lines = [
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; gpu: ${adapter}`,
    '',
    '| kernel | size | ' + backends.map((b) => `${b.name} MVx/s`).join(' | ') + (backends.length > 1 ? ' | gpu/cpu | equal |' : ''),
    '| --- | --- | ' + backends.map(() => '---').join(' | ') + (backends.length > 1 ? ' | --- | --- |' : ''),
  ];
  // Compile every gpu kernel once on a small volume, so the timings below are steady-state.
  const warm = synthesize(box([0, 0, 0], [16, 16, 16]));
  for (const k of backends) await runAll(k, warm.image, warm.labels, [16, 16, 16]);
  let allEqual = true;
  for (const size of sizes) {
    const shape: Vec3 = [size, size, size];
    const { image, labels } = synthesize(box([0, 0, 0], shape));
    const results = [];
    for (const k of backends) results.push(await runAll(k, image, labels, shape));
    for (const name of Object.keys(results[0])) {
      const rates = results.map((r) => size ** 3 / 1e6 / r[name].seconds);
      let row = `| ${name} | ${size}^3 | ${rates.map((r) => r.toFixed(1)).join(' | ')} |`;
      if (results.length > 1) {
        const equal = resultBytes(results[0][name].result).equals(resultBytes(results[1][name].result));
        allEqual &&= equal;
        row += ` ${(rates[1] / rates[0]).toFixed(2)} | ${equal ? 'yes' : 'NO'} |`;
      }
      lines.push(row);
      console.error(row);
    }
  }
  lines.push('', `peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`);
  console.log(lines.join('\n'));
  await closeGpu();
  if (!allEqual) {
    console.error('the gpu and cpu results differ');
    process.exitCode = 1;
  }
}

async function runAll(k: Kernels, image: Uint8Array, labels: BigUint64Array, shape: Vec3): Promise<Record<string, Run>> {
  const n = shape[0] * shape[1] * shape[2];
  const affinities = new Float32Array(3 * n);
  for (let i = 0; i < affinities.length; i++) affinities[i] = ((i * 2654435761) >>> 8) / 2 ** 24;
  const mask = new Uint8Array(n);
  const target = labels[n >> 1];
  for (let i = 0; i < n; i++) mask[i] = labels[i] === target ? 1 : 0;
  return {
    'average downsample uint8 2x2x2': await timed(() => k.averageDownsample({ data: image, shape, channels: 1, factor: [2, 2, 2] })),
    'mode downsample uint64 2x2x2': await timed(() => k.modeDownsample({ data: labels, shape, channels: 1, factor: [2, 2, 2] })),
    'boundary affinities (3 channels)': await timed(() => k.boundaryAffinities({ labels, affinities, shape })),
    'marching-cubes scan (one label)': await timed(() => k.marchingCubesScan(mask, shape)),
  };
}

await main();
