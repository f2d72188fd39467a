// Reads a task's input objects (tasks/inputs.ts) in the main thread while the pool is busy with
// earlier tasks; the bytes then travel to the worker with the task (transferred, not copied).
import { objectUrl } from '../storage/prefetched.js';
import { openStore } from '../storage/open.js';
import { Task } from '../tasks/task.js';
import { taskInputs } from '../tasks/inputs.js';

export interface PrefetchedObject {
  url: string;
  bytes: Uint8Array;
}

/** The task's inputs that exist, or [] when they cannot be worked out (the task will say why). */
export async function prefetchInputs(task: Task): Promise<PrefetchedObject[]> {
  let inputs;
  try {
    inputs = await taskInputs(task);
  } catch {
    return [];
  }
  const fetched = await Promise.all(inputs.map(async ({ storeUrl, key }) => {
    if (storeUrl.startsWith('mem://')) return null; // in-thread stores: the worker would not see them
    try {
      const bytes = await openStore(storeUrl).get(key);
      return bytes ? { url: objectUrl(storeUrl, key), bytes: ownBuffer(bytes) } : null;
    } catch {
      return null; // the task reads it again and reports the error
    }
  }));
  return fetched.filter((f): f is PrefetchedObject => f !== null);
}

/** A copy when `bytes` shares its ArrayBuffer (Node pools small buffers), so it can be transferred. */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer ? bytes : bytes.slice();
}
