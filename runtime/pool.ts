// A piscina pool of worker threads that run tasks. Each thread applies the same Config (workerData);
// a task past the time limit is aborted, which ends its thread (piscina starts a fresh one).
import { Piscina } from 'piscina';
import { builtFile } from '../common/built.js';
import { fromRecord, TimeoutError } from '../common/errors.js';
// EGL's platform comes from the process environment, set by the device module in the main thread.
import '../kernels/gpu/device.js';
import { TaskResult } from '../tasks/kind.js';
import { Task, taskId } from '../tasks/registry.js';
import { Config } from './config.js';
import { PrefetchedObject } from './prefetch.js';
import type { WorkerReply } from './worker.js';

export interface TaskPool {
  readonly threads: number;
  /**
   * Runs `task` (checked already: the thread does not check it again) in a worker; `prefetched` input
   * bytes go with it (transferred). `scope` names the stage it belongs to: the thread reads each
   * layer's info once per scope (none: once per task).
   */
  run(task: Task, prefetched?: PrefetchedObject[], scope?: string): Promise<TaskResult>;
  /** The scope of every later run that names none (a local run's current stage). */
  beginScope(scope: string | undefined): void;
  close(): Promise<void>;
}

export function createTaskPool(config: Config): TaskPool {
  const pool = new Piscina({
    filename: builtFile('runtime/worker.js'),
    minThreads: config.threads,
    maxThreads: config.threads,
    idleTimeout: 30_000,
    // Each thread opens its own GPU device (Dawn is context-aware), on its first kernel call.
    workerData: { config },
  });
  let current: string | undefined;
  return {
    threads: config.threads,
    beginScope(scope) {
      current = scope;
    },
    async run(task, prefetched = [], scope = current) {
      const signal = AbortSignal.timeout(config.taskTimeoutMs);
      let reply: WorkerReply | undefined;
      try {
        reply = await pool.run({ task, prefetched, scope }, { transferList: prefetched.map((p) => p.bytes.buffer as ArrayBuffer), signal });
      } catch (e) {
        if (signal.aborted) throw new TimeoutError(`${taskId(task)}: stopped after the task time limit of ${config.taskTimeoutMs / 1000} s`, { cause: e });
        throw e;
      }
      if ('error' in reply!) throw fromRecord(reply.error);
      return reply!.result;
    },
    async close() {
      // One release per thread (each waits for the others), so every GPU device is let go first.
      const arrived = new SharedArrayBuffer(4);
      await Promise.allSettled(Array.from({ length: pool.threads.length }, () => pool.run({ release: arrived, threads: pool.threads.length })));
      await pool.destroy();
    },
  };
}
