// piscina worker: runs one task per call, in its own thread, with any input bytes prefetched for it.
// Errors come back as records (kind and message): a thrown error would lose its class on the way.
import { workerData } from 'piscina';
import { ErrorRecord, toRecord } from '../common/errors.js';
import { logWarnings } from '../common/log.js';
import { closeKernels, selectedBackend } from '../kernels/backend.js';
import { TaskResult } from '../tasks/kind.js';
import { runTask } from '../tasks/registry.js';
import { clearPrefetched, setPrefetched } from '../storage/prefetched.js';
import { applyConfig, Config } from './config.js';
import { PrefetchedObject } from './prefetch.js';

applyConfig((workerData as { config: Config }).config);
logWarnings();

export type WorkerReply = { result: TaskResult } | { error: ErrorRecord };

/**
 * The pool closing: this thread releases its GPU device (Dawn crashes when threads holding devices
 * are ended together), then holds until every thread has, so that each thread gets one release.
 */
async function release(arrived: Int32Array, threads: number): Promise<void> {
  await closeKernels();
  Atomics.add(arrived, 0, 1);
  const deadline = Date.now() + 10_000;
  for (let n = Atomics.load(arrived, 0); n < threads && Date.now() < deadline; n = Atomics.load(arrived, 0)) Atomics.wait(arrived, 0, n, 100);
}

export default async function work(call: { task: unknown; prefetched: PrefetchedObject[] } | { release: SharedArrayBuffer; threads: number }): Promise<WorkerReply | undefined> {
  if ('release' in call) return void (await release(new Int32Array(call.release), call.threads));
  const { task, prefetched } = call;
  setPrefetched(prefetched);
  try {
    return { result: { ...(await runTask(task)), backend: selectedBackend() } };
  } catch (e) {
    return { error: toRecord(e) };
  } finally {
    clearPrefetched();
  }
}
