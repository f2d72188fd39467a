// A piscina pool of worker threads that run tasks.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { sharedGpuSlot } from '../kernels/backend.js';
import { Task, TaskResult } from '../tasks/task.js';
import { PrefetchedObject } from './prefetch.js';

/** The compiled worker; when this module runs from source (vitest), the build of it in dist/. */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const file = here.endsWith('.ts') ? join(dirname(here), '..', 'dist', 'engine', 'worker.js') : join(dirname(here), 'worker.js');
  if (!existsSync(file)) throw new Error(`worker ${file} is missing: run "npm run build" first`);
  return file;
}

export interface TaskPool {
  readonly threads: number;
  /** Runs `task` in a worker; `prefetched` input bytes go with it (transferred). */
  run(task: Task, prefetched?: PrefetchedObject[]): Promise<TaskResult>;
  close(): Promise<void>;
}

export function defaultThreads(): number {
  return Number(process.env.DIGEST_THREADS) || availableParallelism();
}

export function createTaskPool(threads = defaultThreads()): TaskPool {
  const pool = new Piscina({ filename: workerFile(), minThreads: threads, maxThreads: threads, idleTimeout: 30_000,
    // Every worker sees the same GPU slot, so at most one thread per process opens headless-gl.
    workerData: { gpuSlot: sharedGpuSlot() } });
  return {
    threads,
    run: (task, prefetched = []) => pool.run({ task, prefetched }, { transferList: prefetched.map((p) => p.bytes.buffer as ArrayBuffer) }) as Promise<TaskResult>,
    close: () => pool.destroy(),
  };
}
