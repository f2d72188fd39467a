// piscina worker: runs one task per call, in its own thread.
import { workerData } from 'piscina';
import { adoptGpuSlot, selectedBackend } from '../kernels/backend.js';
import { runTask } from '../tasks/run.js';
import { TaskResult } from '../tasks/task.js';

adoptGpuSlot((workerData as { gpuSlot: SharedArrayBuffer }).gpuSlot);

export default async function work(task: unknown): Promise<TaskResult> {
  return { ...(await runTask(task)), backend: selectedBackend() };
}
