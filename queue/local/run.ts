// Runs a plan here, stage after stage, through a task runner (the worker pool, or in-process). With a
// progress store, finished tasks are recorded (as Pub/Sub workers record theirs), so running the
// plan again skips exactly the tasks already done.
import { messageOf } from '../../common/errors.js';
import { TaskResult } from '../../tasks/kind.js';
import { Plan, planSize, stageSize, stageTasks } from '../../tasks/plan/format.js';
import { Task } from '../../tasks/registry.js';
import { DeadTask, LocalQueue } from './queue.js';
import { execute } from '../../runtime/executor.js';
import { Progress } from '../../runtime/progress-bar.js';
import { ProgressStore, Recorder } from '../progress/store.js';

export type Execute = (task: Task) => Promise<TaskResult>;

export interface RunOptions {
  concurrency: number;
  maxAttempts?: number;
  retryDelayMs?: number;
  /** Draw a progress bar (default true). */
  progress?: boolean;
  /** Where to record finished tasks, and find those of earlier runs to skip. */
  progressUrl?: string;
  /** Called as each stage starts, with a name for it unique to this run (the pool's info scope). */
  onStage?: (scope: string) => void;
}

export interface RunSummary {
  tasks: number;
  done: number;
  /** Done by an earlier run of the plan, and not run again. */
  skipped: number;
  retries: number;
  dead: DeadTask[];
  voxels: number;
  seconds: number;
}

/** Leases tasks while there is room, runs each through the executor, settles it by the outcome. */
export async function drainQueue(
  queue: LocalQueue,
  run: Execute,
  concurrency: number,
  onDone?: (r: TaskResult, index: number) => Promise<void> | void,
): Promise<void> {
  const running = new Set<Promise<void>>();
  while (!queue.drained) {
    for (const lease of queue.lease(concurrency - running.size)) {
      const record = onDone && ((result: TaskResult) => Promise.resolve(onDone(result, lease.index)));
      const p: Promise<void> = execute(lease, (task) => run(task), queue.maxAttempts, { record })
        .then((outcome) => queue.settle(lease, outcome))
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
  const summary: RunSummary = { tasks: planSize(plan), done: 0, skipped: 0, retries: 0, dead: [], voxels: 0, seconds: 0 };
  const store = opts.progressUrl ? new ProgressStore(opts.progressUrl) : undefined;
  if (store) await store.adopt(plan);
  for (const [i, stage] of plan.stages.entries()) {
    opts.onStage?.(`local-${process.pid}-${started}#${i}`);
    const n = stageSize(stage);
    const earlier = store ? (await store.stageState(i, n)).done : undefined;
    const skipped = earlier?.count() ?? 0;
    const recorder: Recorder | undefined = store?.recorder(i, n, `local-${process.pid}-${started}`);
    const todo = (function* () {
      for (const t of stageTasks(stage)) if (!earlier?.has(t.index)) yield t;
    })();
    const queue = new LocalQueue(todo, { maxAttempts: opts.maxAttempts, retryDelayMs: opts.retryDelayMs });
    const bar = opts.progress === false ? undefined : new Progress(`stage ${i + 1}/${plan.stages.length} (${stage.name})`, n - skipped);
    await drainQueue(queue, execute, opts.concurrency, async (r, index) => {
      summary.voxels += r.voxels;
      if (recorder) {
        recorder.finished(index);
        await recorder.flush();
      }
      bar?.tick(r.voxels, queue.retries, queue.dead.length);
    });
    for (const d of queue.dead) recorder?.failed(d.index, d.error);
    await recorder?.flush().catch((e) => {
      throw new Error(`recording progress under ${opts.progressUrl}: ${messageOf(e)}`, { cause: e });
    });
    bar?.finish();
    summary.skipped += skipped;
    summary.done += queue.done;
    summary.retries += queue.retries;
    summary.dead.push(...queue.dead);
    if (queue.dead.length > 0) break;
  }
  summary.seconds = (Date.now() - started) / 1000;
  return summary;
}
