// The gpu.js instance of this thread, on headless-gl (WebGL 1 through ANGLE; Mesa's software GL where
// there is no GPU). headless-gl's native addon is not context-aware: it loads in one thread per
// process only, so engine/backend.ts lets one thread per process hold the GPU.
import { createRequire } from 'node:module';
import type { GPU, IGPUKernelSettings, IKernelRunShortcut, KernelFunction } from 'gpu.js';

const require = createRequire(import.meta.url);

export interface GpuContext {
  gpu: GPU;
  renderer: string;
  /** One compiled kernel per name, created on first use. */
  kernel(name: string, make: (gpu: GPU) => IKernelRunShortcut): IKernelRunShortcut;
}

// Output and argument sizes change per call; 'single' precision keeps values 32-bit floats end to end;
// optimizeFloatMemory packs 4 values per texel, which halves readback time (readback dominates).
export const KERNEL_SETTINGS: IGPUKernelSettings = { output: [1, 1, 1], dynamicOutput: true, dynamicArguments: true, precision: 'single', tactic: 'precision', optimizeFloatMemory: true };

let context: GpuContext | undefined;
let failure: string | undefined;

/** Opens the GPU once; throws with the reason if it cannot. */
export function openGpu(): GpuContext {
  if (context) return context;
  if (failure) throw new Error(failure);
  try {
    context = createContext();
    return context;
  } catch (e) {
    failure = `gpu backend unavailable: ${(e as Error).message}`;
    throw new Error(failure);
  }
}

function createContext(): GpuContext {
  let createGl: (w: number, h: number, opts?: object) => WebGLRenderingContext | null;
  try {
    createGl = require('gl');
  } catch (e) {
    throw new Error(`headless-gl (package "gl") is not installed or not built (${(e as Error).message.split('\n')[0]})`);
  }
  const gl = createGl(1, 1);
  if (!gl) throw new Error(`headless-gl could not create a context (DISPLAY=${process.env.DISPLAY ?? 'unset'}; run under an X server such as Xvfb)`);
  if (!gl.getExtension('OES_texture_float')) throw new Error('the GL context has no OES_texture_float: float textures are needed for exact kernels');
  const renderer = `${gl.getParameter(gl.VERSION)} on ${gl.getParameter(gl.RENDERER)}`;
  const { GPU: GpuClass } = require('gpu.js') as { GPU: new (settings: object) => GPU };
  const gpu = new GpuClass({ mode: 'headlessgl', context: gl });
  const kernels = new Map<string, IKernelRunShortcut>();
  const ctx: GpuContext = {
    gpu,
    renderer,
    kernel(name, make) {
      let k = kernels.get(name);
      if (!k) kernels.set(name, (k = make(gpu)));
      return k;
    },
  };
  // A kernel must compile and read back exact floats before the backend is trusted.
  const probe = gpu.createKernel(function (this: { thread: { x: number } }, a: number[]) { return a[this.thread.x] + 1; } as KernelFunction, { output: [3], precision: 'single' });
  const got = Array.from(probe(new Float32Array([16777214, 0.5, -2])) as Float32Array);
  if (got.join() !== '16777215,1.5,-1') throw new Error(`probe kernel returned ${got}, expected 16777215,1.5,-1`);
  probe.destroy();
  return ctx;
}

/** z ranges [z0, z1) that split `depth` slices of `sliceVoxels` into pieces under `maxVoxels` each. */
export function zSlabs(depth: number, sliceVoxels: number, maxVoxels = 1 << 22): [number, number][] {
  if (sliceVoxels > maxVoxels) throw new Error(`gpu kernels: one z slice of ${sliceVoxels} voxels exceeds ${maxVoxels}`);
  const step = Math.max(1, Math.floor(maxVoxels / Math.max(1, sliceVoxels)));
  const slabs: [number, number][] = [];
  for (let z = 0; z < depth; z += step) slabs.push([z, Math.min(depth, z + step)]);
  return slabs;
}

/** Copies a 3D kernel result ([z][y] rows of floats) into `out` from `offset`, converting element type. */
export function copyRows(result: unknown, out: { set(a: ArrayLike<number>, offset: number): void }, offset: number): number {
  for (const plane of result as Float32Array[][]) for (const row of plane) {
    out.set(row, offset);
    offset += row.length;
  }
  return offset;
}
