// Drains a plan through a task runner (the worker pool, or in-process), stage after stage.
import { Plan, planSize } from '../tasks/plan.js';
import { TaskResult } from '../tasks/kind.js';
import { Task } from '../tasks/registry.js';
import { DeadTask, LocalQueue } from './local-queue.js';
import { Progress } from './progress.js';

export type Execute = (task: Task) => Promise<TaskResult>;

export interface RunOptions {
  concurrency: number;
  maxAttempts?: number;
  retryDelayMs?: number;
  /** Draw a progress bar (default true). */
  progress?: boolean;
}

export interface RunSummary {
  tasks: number;
  done: number;
  retries: number;
  dead: DeadTask[];
  voxels: number;
  seconds: number;
}

export async function drainQueue(queue: LocalQueue, execute: Execute, concurrency: number, onDone?: (r: TaskResult) => void): Promise<void> {
  const running = new Set<Promise<void>>();
  while (!queue.drained) {
    for (const lease of queue.lease(concurrency - running.size)) {
      const p: Promise<void> = execute(lease.task)
        .then((result) => { queue.ack(lease); onDone?.(result); }, (error) => queue.nack(lease, error))
        .finally(() => running.delete(p));
      running.add(p);
    }
    if (running.size > 0) await Promise.race(running);
    else if (!queue.drained) await new Promise((r) => setTimeout(r, queue.nextReadyIn() ?? 10));
  }
}

/** Runs the stages in order; a stage with dead tasks stops the run, since later stages read its output. */
export async function runPlan(plan: Plan, execute: Execute, opts: RunOptions): Promise<RunSummary> {
  const started = Date.now();
  const summary: RunSummary = { tasks: planSize(plan), done: 0, retries: 0, dead: [], voxels: 0, seconds: 0 };
  for (const [i, stage] of plan.stages.entries()) {
    const queue = new LocalQueue(stage, { maxAttempts: opts.maxAttempts, retryDelayMs: opts.retryDelayMs });
    const progress = opts.progress === false ? undefined : new Progress(`stage ${i + 1}/${plan.stages.length} (${stage[0]?.kind})`, stage.length);
    await drainQueue(queue, execute, opts.concurrency, (r) => {
      summary.voxels += r.voxels;
      progress?.tick(r.voxels, queue.retries, queue.dead.length);
    });
    progress?.finish();
    summary.done += queue.done;
    summary.retries += queue.retries;
    summary.dead.push(...queue.dead);
    if (queue.dead.length > 0) break;
  }
  summary.seconds = (Date.now() - started) / 1000;
  return summary;
}
