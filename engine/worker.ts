// piscina worker: runs one task per call, in its own thread, with any input bytes prefetched for it.
import { workerData } from 'piscina';
import { adoptGpuSlot, selectedBackend } from '../kernels/backend.js';
import { runTask } from '../tasks/run.js';
import { TaskResult } from '../tasks/task.js';
import { clearPrefetched, setPrefetched } from '../storage/prefetched.js';
import { PrefetchedObject } from './prefetch.js';

adoptGpuSlot((workerData as { gpuSlot: SharedArrayBuffer }).gpuSlot);

export default async function work({ task, prefetched }: { task: unknown; prefetched: PrefetchedObject[] }): Promise<TaskResult> {
  setPrefetched(prefetched);
  try {
    return { ...(await runTask(task)), backend: selectedBackend() };
  } finally {
    clearPrefetched();
  }
}
