// The one executor every queue feeds (the embedded local queue, Pub/Sub): it runs a delivered task
// and decides what became of it, in one place: done, skipped (its stage's records say it is done
// already), to be retried (a failure a retry may fix, attempts left), or dead (a permanent failure at
// once: invalid input, corrupt data; or the last allowed attempt). Queues only deliver and settle.
import { isPermanent } from '../common/errors.js';
import { TaskResult } from '../tasks/kind.js';
import { Task } from '../tasks/registry.js';
import { PrefetchedObject } from './prefetch.js';

/** One delivery of a task, from whichever queue. */
export interface Delivery {
  /** The checked task; absent when the delivery is no valid task (then `invalid` says why). */
  task?: Task;
  invalid?: unknown;
  /** 1 for the first try. */
  attempt: number;
  /** Its input objects, read ahead while it waited. */
  inputs?: Promise<PrefetchedObject[]>;
  /** The stage it belongs to (a pool thread reads each layer's info once per scope). */
  scope?: string;
}

export type Outcome =
  | { kind: 'done'; result: TaskResult; seconds: number }
  | { kind: 'skipped' }
  | { kind: 'retry'; error: unknown }
  | { kind: 'dead'; error: unknown; permanent: boolean };

/** Runs a task with its prefetched inputs, in the pool or in this thread. */
export type RunTask = (task: Task, inputs: PrefetchedObject[], scope: string | undefined) => Promise<TaskResult>;

export interface ExecuteHooks {
  /** True when the task is known done (its stage's records): then it is not run. */
  alreadyDone?(): Promise<boolean> | boolean;
  /** Called once the task starts (its inputs are in hand). */
  started?(): void;
  /** Records the task done before the queue acknowledges it (a failure here fails the delivery). */
  record?(result: TaskResult): Promise<void>;
}

/** What a failure on attempt `attempt` of `maxAttempts` means. */
export function failureOutcome(error: unknown, attempt: number, maxAttempts: number): Outcome {
  const permanent = isPermanent(error);
  return permanent || attempt >= maxAttempts ? { kind: 'dead', error, permanent } : { kind: 'retry', error };
}

export async function execute(d: Delivery, run: RunTask, maxAttempts: number, hooks: ExecuteHooks = {}): Promise<Outcome> {
  const t0 = Date.now();
  try {
    if (d.invalid !== undefined || !d.task) throw d.invalid;
    if (await hooks.alreadyDone?.()) return { kind: 'skipped' };
    const inputs = await (d.inputs ?? Promise.resolve([]));
    hooks.started?.();
    const result = await run(d.task, inputs, d.scope);
    await hooks.record?.(result);
    return { kind: 'done', result, seconds: (Date.now() - t0) / 1000 };
  } catch (e) {
    return failureOutcome(e, d.attempt, maxAttempts);
  }
}
