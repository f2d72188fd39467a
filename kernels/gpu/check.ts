// `digest gpu-check`: whether this machine's GPU stack loads and its GPU gives the cpu kernels'
// results. For operators (a new node pool, a new image) and the image check in CI.
import { gpuKernels, probeKernels } from '../backend.js';
import { closeGpu, loadLibrary } from './device.js';

/** Dawn's binary and the Vulkan loader load here: the GPU stack is in place, with or without a GPU. */
export async function gpuStackLoads(): Promise<{ dawn: string; vulkanLoader: string }> {
  let dawn = 'loads';
  try {
    await import('webgpu');
  } catch (e) {
    dawn = `does not load: ${(e as Error).message.split('\n')[0]}`;
  }
  const failure = loadLibrary('libvulkan.so.1');
  return { dawn, vulkanLoader: failure ? `does not load: ${failure}` : 'loads' };
}

/** Opens the GPU, runs every kernel on size^3 inputs on it and on the cpu; ok when all agree. */
export async function gpuCheck(size: number): Promise<{ ok: boolean; adapter?: unknown; kernels?: unknown; error?: string }> {
  try {
    const gpu = await gpuKernels();
    const probes = await probeKernels(gpu, size);
    return {
      ok: probes.every((p) => p.same),
      adapter: gpu.adapter,
      kernels: Object.fromEntries(probes.map((p) => [p.kernel, { equal: p.same, cpuMs: Math.round(p.cpuMs * 10) / 10, gpuMs: Math.round(p.gpuMs * 10) / 10 }])),
    };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  } finally {
    await closeGpu();
  }
}
