// piscina worker: runs one task per call, in its own thread, with any input bytes prefetched for it.
// Errors come back as records (kind and message): a thrown error would lose its class on the way.
import { workerData } from 'piscina';
import { ErrorRecord, toRecord } from '../common/errors.js';
import { adoptGpuSlot, selectedBackend } from '../kernels/backend.js';
import { TaskResult } from '../tasks/kind.js';
import { runTask } from '../tasks/registry.js';
import { clearPrefetched, setPrefetched } from '../storage/prefetched.js';
import { applyConfig, Config } from './config.js';
import { PrefetchedObject } from './prefetch.js';

const data = workerData as { gpuSlot: SharedArrayBuffer; config: Config };
adoptGpuSlot(data.gpuSlot);
applyConfig(data.config);

export type WorkerReply = { result: TaskResult } | { error: ErrorRecord };

export default async function work({ task, prefetched }: { task: unknown; prefetched: PrefetchedObject[] }): Promise<WorkerReply> {
  setPrefetched(prefetched);
  try {
    return { result: { ...(await runTask(task)), backend: selectedBackend() } };
  } catch (e) {
    return { error: toRecord(e) };
  } finally {
    clearPrefetched();
  }
}
