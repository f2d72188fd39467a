// Whether the gpu backend can run here, for tests. Missing gpu support skips the gpu tests with a
// warning, unless DIGEST_REQUIRE_GPU=1 (as in .ci/run), which makes it a failure.
import { execFileSync } from 'node:child_process';
import { gpuKernels, Kernels } from '../kernels/backend.js';

function unavailable(reason: string): undefined {
  if (process.env.DIGEST_REQUIRE_GPU === '1') throw new Error(`DIGEST_REQUIRE_GPU=1 but ${reason}`);
  console.warn(`skipping gpu backend tests: ${reason}`);
  return undefined;
}

/** The gpu kernels in this thread (which then holds headless-gl: do not also start gpu workers). */
export function gpuKernelsForTests(): Kernels | undefined {
  try {
    return gpuKernels();
  } catch (e) {
    return unavailable((e as Error).message);
  }
}

/** Whether a worker thread could open headless-gl: probed in a child process, leaving this one free. */
export function gpuAvailableForWorkers(): boolean {
  try {
    execFileSync(process.execPath, ['-e', 'process.exit(require("gl")(1, 1) ? 0 : 1)'], { stdio: 'ignore' });
    return true;
  } catch {
    return unavailable(`headless-gl cannot create a context (DISPLAY=${process.env.DISPLAY ?? 'unset'})`) ?? false;
  }
}
