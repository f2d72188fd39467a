// Whether the gpu backend (WebGPU on Dawn) can run here, for tests. A missing adapter skips the gpu
// tests with a warning, unless DIGEST_REQUIRE_GPU=1 (as in .ci/run), which makes it a failure.
import { gpuKernels, Kernels } from '../kernels/backend.js';

/** The gpu kernels on this thread's device, or undefined (skip) where no WebGPU adapter opens. */
export async function gpuKernelsForTests(options: { maxBindingBytes?: number } = {}): Promise<Kernels | undefined> {
  try {
    return await gpuKernels(options);
  } catch (e) {
    const reason = (e as Error).message;
    if (process.env.DIGEST_REQUIRE_GPU === '1') throw new Error(`DIGEST_REQUIRE_GPU=1 but ${reason}`, { cause: e });
    console.warn(`skipping gpu backend tests: ${reason}`);
    return undefined;
  }
}
