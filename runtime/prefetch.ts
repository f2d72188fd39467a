// Reads a task's input objects (the kind's `inputs`) in the main thread while the pool is busy with
// earlier tasks; the bytes then travel to the worker with the task (transferred, not copied).
import { Volume } from '../precomputed/volume.js';
import { objectUrl } from '../storage/prefetched.js';
import { openStore } from '../storage/open.js';
import { Task, taskInputs } from '../tasks/registry.js';
import { TaskResult } from '../tasks/kind.js';
import type { TaskPool } from './pool.js';

export interface PrefetchedObject {
  url: string;
  bytes: Uint8Array;
}

const volumes = new Map<string, Promise<Volume>>();

/** Layer infos are read once per process here: prefetching only guesses, the task reads the info itself. */
function openVolume(url: string): Promise<Volume> {
  let v = volumes.get(url);
  if (!v) {
    v = Volume.open(url);
    v.catch(() => volumes.delete(url));
    volumes.set(url, v);
  }
  return v;
}

/**
 * The task's inputs that exist, or [] when they cannot be worked out (the task will say why); only as
 * many as fit in `budget` bytes (by their size limits), the rest the task reads itself.
 */
export async function prefetchInputs(task: Task, budget = Infinity): Promise<PrefetchedObject[]> {
  let inputs;
  try {
    inputs = await taskInputs(task, openVolume);
  } catch {
    return [];
  }
  let planned = 0;
  inputs = inputs.filter((o) => (planned += o.maxBytes ?? 0) <= budget);
  const fetched = await Promise.all(
    inputs.map(async ({ storeUrl, key, maxBytes }) => {
      if (storeUrl.startsWith('mem://')) return null; // in-thread stores: the worker would not see them
      try {
        const bytes = await openStore(storeUrl).get(key, { maxBytes });
        return bytes ? { url: objectUrl(storeUrl, key), bytes: ownBuffer(bytes) } : null;
      } catch {
        return null; // the task reads it again and reports the error
      }
    }),
  );
  return fetched.filter((f): f is PrefetchedObject => f !== null);
}

/** A copy when `bytes` shares its ArrayBuffer (Node pools small buffers), so it can be transferred. */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer ? bytes : bytes.slice();
}

/** Bytes of inputs read ahead for one task of a local run, at most. */
const LOCAL_PREFETCH_BYTES = 256 << 20;

/**
 * Runs tasks on `pool` with their inputs read here first, as `digest work` does: a local run leases
 * twice as many tasks as there are threads, so the waiting ones' reads overlap the running ones.
 */
export function withPrefetch(pool: TaskPool): (task: Task) => Promise<TaskResult> {
  return async (task) => pool.run(task, await prefetchInputs(task, LOCAL_PREFETCH_BYTES));
}
