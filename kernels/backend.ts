// One contract per kernel, two implementations: `cpu` (typed-array loops and WebAssembly) and `gpu`
// (WGSL compute shaders on Dawn's WebGPU, kernels/gpu/). Both give identical integer results; float32
// image averages agree within 2e-6 of the largest child's magnitude (kernels/gpu/downsample.ts says
// why). Kernels are async: a GPU call waits for its readback.
//
// Selection (--backend or DIGEST_BACKEND): `cpu`; `gpu` (required: a failure to open a device is an
// error, a software adapter is used); `auto` (default): the GPU only where a GPU device node exists
// (/dev/nvidia<N>, /dev/dri/renderD<N>), its adapter is hardware, and every kernel's probe gives the
// cpu kernel's result; then each kernel goes where it measured faster in this process. One log line
// says what was chosen and why. Each thread opens its own device (Dawn is context-aware).
import { readdirSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { logEvent } from '../common/log.js';
import { Vec3 } from '../common/box.js';
import { TypedArray } from '../common/dtype.js';
import { BoundaryInput, boundaryAffinities } from './affinity.js';
import { averageDownsample, DownsampleInput, modeDownsample } from './downsample.js';
import { probeAdapter } from './gpu/adapter-probe.js';
import { closeGpu, GpuDevice, openGpu } from './gpu/device.js';
import { gpuBoundaryAffinities } from './gpu/affinity.js';
import { gpuAverageDownsample, gpuModeDownsample } from './gpu/downsample.js';
import { gpuMarchingCubesScan } from './gpu/marching-cubes-scan.js';
import { marchingCubesScan, MarchingCubesScan } from './marching-cubes-scan.js';
import { InvalidInput } from '../common/errors.js';

export const BACKEND_CHOICES = ['auto', 'cpu', 'gpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface Kernels {
  /** 'gpu' when at least one kernel runs there. */
  readonly name: 'cpu' | 'gpu';
  averageDownsample(input: DownsampleInput): Promise<TypedArray>;
  modeDownsample(input: DownsampleInput): Promise<Uint32Array | BigUint64Array>;
  boundaryAffinities(input: BoundaryInput): Promise<Float32Array>;
  marchingCubesScan(mask: Uint8Array, shape: Vec3): Promise<MarchingCubesScan>;
}
type KernelName = Exclude<keyof Kernels, 'name'>;
const KERNEL_NAMES: KernelName[] = ['averageDownsample', 'modeDownsample', 'boundaryAffinities', 'marchingCubesScan'];

export const cpuKernels: Kernels = {
  name: 'cpu',
  averageDownsample: async (input) => averageDownsample(input),
  modeDownsample: async (input) => modeDownsample(input),
  boundaryAffinities: async (input) => boundaryAffinities(input),
  marchingCubesScan: async (mask, shape) => marchingCubesScan(mask, shape),
};

/**
 * The gpu kernels on this thread's device; rejects if no device opens. Calls run one at a time.
 * `maxBindingBytes` caps one buffer binding below the device's (tests use it to force z slabs).
 */
export async function gpuKernels(options: { maxBindingBytes?: number } = {}): Promise<Kernels & { adapter: GpuDevice['adapter'] }> {
  const opened = await openGpu();
  const gpu: GpuDevice = { ...opened, maxBinding: Math.min(opened.maxBinding, options.maxBindingBytes ?? Infinity) };
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(run: () => Promise<T>): Promise<T> => {
    const next = queue.then(() => gpu.checked(run));
    queue = next.catch(() => undefined);
    return next;
  };
  return {
    name: 'gpu',
    adapter: gpu.adapter,
    averageDownsample: (input) => serial(() => gpuAverageDownsample(gpu, input)),
    modeDownsample: (input) => serial(() => gpuModeDownsample(gpu, input)),
    boundaryAffinities: (input) => serial(() => gpuBoundaryAffinities(gpu, input)),
    marchingCubesScan: (mask, shape) => serial(() => gpuMarchingCubesScan(gpu, mask, shape)),
  };
}

export function parseBackendChoice(value: string | undefined, field = 'backend'): BackendChoice {
  const v = value ?? 'auto';
  if (!(BACKEND_CHOICES as readonly string[]).includes(v)) throw new InvalidInput(`${field}: "${v}" is not one of ${BACKEND_CHOICES.join(', ')}`);
  return v as BackendChoice;
}

/** A GPU device node: /dev/nvidia<N> (GKE mounts the pod's GPU under its own N) or a DRM render node. */
export function gpuDeviceNodes(dev = '/dev'): string[] {
  const list = (dir: string) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  return [
    ...list(dev)
      .filter((f) => /^nvidia\d+$/.test(f))
      .map((f) => `${dev}/${f}`),
    ...list(`${dev}/dri`)
      .filter((f) => /^renderD\d+$/.test(f))
      .map((f) => `${dev}/dri/${f}`),
  ];
}

/** One kernel's probe: the cpu's and the gpu's results agree, and how long each took. */
export interface Probe {
  kernel: KernelName;
  same: boolean;
  cpuMs: number;
  gpuMs: number;
}

/** Inputs of size^3 that exercise every kernel's paths; each kernel run twice (timing the second). */
export async function probeKernels(gpu: Kernels, size = 128): Promise<Probe[]> {
  const shape: Vec3 = [size, size, size];
  const n = shape[0] * shape[1] * shape[2];
  let seed = 12345;
  const random = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const image = Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
  const labels = new BigUint64Array(n);
  // Cells of 16^3 with labels near 2^64, and 5% holes of label 0.
  const cell = (i: number) => ((i % size) >> 4) + 1024 * ((Math.floor(i / size) % size) >> 4) + 1024 ** 2 * (Math.floor(i / size ** 2) >> 4);
  for (let i = 0; i < n; i++) labels[i] = random() < 0.05 ? 0n : 0xffff_ffff_0000_0000n + BigInt(cell(i));
  const affinities = Float32Array.from({ length: 3 * n }, () => random());
  const mask = Uint8Array.from(labels, (l) => (l === labels[n >> 1] ? 1 : 0));
  const down: DownsampleInput = { data: image, shape, channels: 1, factor: [2, 2, 2], phase: [1, 0, 1] };
  const runs: Record<KernelName, (k: Kernels) => Promise<unknown>> = {
    averageDownsample: (k) => k.averageDownsample(down),
    modeDownsample: (k) => k.modeDownsample({ ...down, data: labels }),
    boundaryAffinities: (k) => k.boundaryAffinities({ labels, affinities, shape }),
    marchingCubesScan: (k) => k.marchingCubesScan(mask, shape),
  };
  const timed = async (k: Kernels, kernel: KernelName) => {
    await runs[kernel](k);
    const start = performance.now();
    const result = await runs[kernel](k);
    return { result, ms: performance.now() - start };
  };
  const probes: Probe[] = [];
  for (const kernel of KERNEL_NAMES) {
    const c = await timed(cpuKernels, kernel),
      g = await timed(gpu, kernel);
    probes.push({ kernel, same: resultBytes(c.result).equals(resultBytes(g.result)), cpuMs: c.ms, gpuMs: g.ms });
  }
  return probes;
}

/** A kernel's result as bytes (a scan's cases, then its offsets), to compare backends. */
export function resultBytes(result: unknown): Buffer {
  const scan = result as MarchingCubesScan;
  const parts: TypedArray[] = scan.offsets ? [scan.cases, scan.offsets] : [result as TypedArray];
  return Buffer.concat(parts.map((t) => Buffer.from(t.buffer, t.byteOffset, t.byteLength)));
}

/**
 * This thread's kernels for `choice`, with the one log line that says why. `dev` is where device
 * nodes are looked for (tests point it elsewhere).
 */
export async function selectKernels(choice: BackendChoice, dev = '/dev'): Promise<Kernels> {
  const log = (backend: 'cpu' | 'gpu', reason: string, fields: Record<string, unknown> = {}) =>
    logEvent('INFO', `kernels on ${backend}`, { backend, choice, reason, thread: threadId, ...fields });
  if (choice === 'cpu') return cpuKernels;
  if (choice === 'gpu') {
    const gpu = await gpuKernels();
    log('gpu', 'forced by --backend gpu', { adapter: gpu.adapter.name, software: gpu.adapter.software });
    return gpu;
  }
  const nodes = gpuDeviceNodes(dev);
  if (nodes.length === 0) {
    log('cpu', 'no GPU device node (/dev/nvidia<N>, /dev/dri/renderD<N>)');
    return cpuKernels;
  }
  // Asked in a child process first, so Dawn's own plain-text warnings stay out of this log.
  const asked = await probeAdapter();
  if (!asked.adapter) {
    log('cpu', asked.error ?? 'no WebGPU adapter', { devices: nodes, dawn: asked.messages });
    return cpuKernels;
  }
  if (asked.adapter.software) {
    log('cpu', 'the adapter is a software renderer, slower than the cpu kernels', { adapter: asked.adapter.name, devices: nodes, dawn: asked.messages });
    return cpuKernels;
  }
  let gpu: Awaited<ReturnType<typeof gpuKernels>>;
  try {
    gpu = await gpuKernels();
  } catch (e) {
    log('cpu', (e as Error).message, { devices: nodes });
    return cpuKernels;
  }
  const probes = await probeKernels(gpu);
  const wrong = probes.filter((p) => !p.same).map((p) => p.kernel);
  if (wrong.length > 0) {
    await closeGpu();
    log('cpu', `the GPU gave results other than the cpu kernels' in ${wrong.join(', ')}`, { adapter: gpu.adapter.name });
    return cpuKernels;
  }
  const routes = Object.fromEntries(probes.map((p) => [p.kernel, p.gpuMs < p.cpuMs ? 'gpu' : 'cpu'])) as Record<KernelName, 'cpu' | 'gpu'>;
  const timings = Object.fromEntries(probes.map((p) => [p.kernel, { cpuMs: Math.round(p.cpuMs * 10) / 10, gpuMs: Math.round(p.gpuMs * 10) / 10 }]));
  if (Object.values(routes).every((r) => r === 'cpu')) {
    await closeGpu();
    log('cpu', 'every kernel measured faster on the cpu', { adapter: gpu.adapter.name, timings });
    return cpuKernels;
  }
  log('gpu', 'hardware adapter, exact, faster where routed', { adapter: gpu.adapter.name, routes, timings });
  return {
    name: 'gpu',
    averageDownsample: (routes.averageDownsample === 'gpu' ? gpu : cpuKernels).averageDownsample,
    modeDownsample: (routes.modeDownsample === 'gpu' ? gpu : cpuKernels).modeDownsample,
    boundaryAffinities: (routes.boundaryAffinities === 'gpu' ? gpu : cpuKernels).boundaryAffinities,
    marchingCubesScan: (routes.marchingCubesScan === 'gpu' ? gpu : cpuKernels).marchingCubesScan,
  };
}

let selected: Promise<Kernels> | undefined;
let selectedName: 'cpu' | 'gpu' | undefined;
let choice: BackendChoice = 'auto';

/** Set at the edge (runtime/config.ts); takes effect before this thread's first kernel. */
export function configureKernels(c: BackendChoice): void {
  if (selected && c !== choice) selected = undefined;
  choice = c;
}

/** This thread's kernels, chosen once from the configured backend (default auto). */
export function kernels(): Promise<Kernels> {
  if (!selected) {
    selected = selectKernels(choice);
    selected.then(
      (k) => {
        selectedName = k.name;
      },
      () => {
        selected = undefined;
      },
    );
  }
  return selected;
}

/** Releases this thread's GPU device, if it opened one (a worker draining, a pool closing). */
export async function closeKernels(): Promise<void> {
  selected = undefined;
  selectedName = undefined;
  await closeGpu();
}

/** On this thread's kernels: images average, segmentations take the mode. */
export async function downsample(input: DownsampleInput, layerType: 'image' | 'segmentation'): Promise<TypedArray> {
  const k = await kernels();
  return layerType === 'segmentation' ? k.modeDownsample(input) : k.averageDownsample(input);
}

/** The kernels this thread has chosen, if it has needed any yet. */
export function selectedBackend(): 'cpu' | 'gpu' | undefined {
  return selectedName;
}
