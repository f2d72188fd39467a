// One contract per kernel, two implementations: `cpu` (typed-array loops) and `gpu` (gpu.js on
// headless-gl). Both give identical integer results; float32 image averages agree within 2e-6 of the
// largest child's magnitude (kernels/gpu/downsample.ts says why).
//
// Selection (--backend or DIGEST_BACKEND): `cpu`; `gpu` (required: a failure to open it is an error);
// `auto` (default): gpu when a GPU device is visible, gpu.js opens and GL renders on hardware, else cpu
// with one log line.
// headless-gl loads in only one thread per process, so one thread claims the GPU through a shared
// slot (engine/pool.ts hands it to every worker) and the other threads run the cpu kernels.
import { existsSync, readdirSync } from 'node:fs';
import { logEvent } from '../common/log.js';
import { threadId } from 'node:worker_threads';
import { Vec3 } from '../precomputed/box.js';
import { TypedArray } from '../precomputed/dtype.js';
import { BoundaryInput, boundaryAffinities } from './affinity.js';
import { averageDownsample, DownsampleInput, modeDownsample } from './downsample.js';
import { marchingCubesScan, MarchingCubesScan } from './marching-cubes-scan.js';
import { openGpu } from './gpu/context.js';
import { gpuBoundaryAffinities } from './gpu/affinity.js';
import { gpuAverageDownsample, gpuModeDownsample } from './gpu/downsample.js';
import { gpuMarchingCubesScan } from './gpu/marching-cubes-scan.js';

export const BACKEND_CHOICES = ['auto', 'cpu', 'gpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface Kernels {
  readonly name: 'cpu' | 'gpu';
  averageDownsample(input: DownsampleInput): TypedArray;
  modeDownsample(input: DownsampleInput): Uint32Array | BigUint64Array;
  boundaryAffinities(input: BoundaryInput): Float32Array;
  marchingCubesScan(mask: Uint8Array, shape: Vec3): MarchingCubesScan;
}

export const cpuKernels: Kernels = { name: 'cpu', averageDownsample, modeDownsample, boundaryAffinities, marchingCubesScan };

/** The gpu kernels of this thread; throws if the GPU cannot be opened. */
export function gpuKernels(): Kernels {
  const ctx = openGpu();
  return {
    name: 'gpu',
    averageDownsample: (input) => gpuAverageDownsample(ctx, input),
    modeDownsample: (input) => gpuModeDownsample(ctx, input),
    boundaryAffinities: (input) => gpuBoundaryAffinities(ctx, input),
    marchingCubesScan: (mask, shape) => gpuMarchingCubesScan(ctx, mask, shape),
  };
}

export function parseBackendChoice(value: string | undefined, field = 'backend'): BackendChoice {
  const v = value ?? 'auto';
  if (!(BACKEND_CHOICES as readonly string[]).includes(v)) throw new Error(`${field}: "${v}" is not one of ${BACKEND_CHOICES.join(', ')}`);
  return v as BackendChoice;
}

// The GPU slot: 0 free, -1 unavailable, else the holder's threadId + 1. Shared across this process's threads.
let gpuSlot = new Int32Array(new SharedArrayBuffer(4));

/** The slot to hand to worker threads (engine/pool.ts), and to adopt in them (engine/worker.ts). */
export function sharedGpuSlot(): SharedArrayBuffer {
  return gpuSlot.buffer as SharedArrayBuffer;
}
export function adoptGpuSlot(buffer: SharedArrayBuffer): void {
  gpuSlot = new Int32Array(buffer);
}

/** Claims the GPU for this thread; returns why not when another thread holds it or it failed. */
function claimGpu(): string | undefined {
  const was = Atomics.compareExchange(gpuSlot, 0, 0, threadId + 1);
  if (was === 0 || was === threadId + 1) return undefined;
  return was < 0 ? 'the gpu failed to open in another thread' : `thread ${was - 1} holds the gpu (headless-gl loads in one thread per process)`;
}

function gpuDevicePresent(): boolean {
  if (existsSync('/dev/nvidia0')) return true;
  try {
    return readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
  } catch {
    return false;
  }
}

function log(line: string): void {
  logEvent('INFO', line, { thread: threadId });
}

const SOFTWARE_GL = /llvmpipe|softpipe|swiftshader|software/i;

export function selectKernels(choice: BackendChoice): Kernels {
  if (choice === 'cpu') return cpuKernels;
  if (choice === 'auto' && !gpuDevicePresent()) {
    log('kernels on cpu (auto: no GPU device in /dev; software GL is slower than the cpu kernels, use --backend gpu to force it)');
    return cpuKernels;
  }
  const busy = claimGpu();
  if (busy) {
    log(`kernels on cpu (${busy}; results are identical)`);
    return cpuKernels;
  }
  try {
    const k = gpuKernels();
    const renderer = openGpu().renderer;
    if (choice === 'auto' && SOFTWARE_GL.test(renderer)) {
      // A GPU device exists but GL renders in software (e.g. Xvfb on a GPU node): slower than the cpu.
      Atomics.store(gpuSlot, 0, -1);
      log(`kernels on cpu (auto: the GL renderer is software, ${renderer}; use --backend gpu to force it)`);
      return cpuKernels;
    }
    log(`kernels on gpu (${choice}: ${renderer})`);
    return k;
  } catch (e) {
    Atomics.store(gpuSlot, 0, -1);
    if (choice === 'gpu') throw e;
    log(`kernels on cpu (auto: ${(e as Error).message})`);
    return cpuKernels;
  }
}

let selected: Kernels | undefined;
let choice: BackendChoice = 'auto';

/** Set at the edge (engine/config.ts); takes effect before this thread's first kernel. */
export function configureKernels(c: BackendChoice): void {
  if (selected && c !== choice) selected = undefined;
  choice = c;
}

/** This thread's kernels, chosen once from the configured backend (default auto). */
export function kernels(): Kernels {
  selected ??= selectKernels(choice);
  return selected;
}

/** On this thread's kernels: images average, segmentations take the mode. */
export function downsample(input: DownsampleInput, layerType: 'image' | 'segmentation'): TypedArray {
  const k = kernels();
  return layerType === 'segmentation' ? k.modeDownsample(input) : k.averageDownsample(input);
}

/** The kernels this thread has chosen, if it has needed any yet. */
export function selectedBackend(): 'cpu' | 'gpu' | undefined {
  return selected?.name;
}
