// `digest publish`: sends a plan's tasks to Pub/Sub one stage at a time. A stage is published once
// every task of the stage before it is done (the workers' done markers of that stage), since
// later stages read what earlier ones wrote. Each message carries the task as JSON and, as
// attributes, the progress store's URL and the stage, so workers know where to mark it done.
import { Plan, planSize } from '../tasks/plan.js';
import { logEvent } from '../common/log.js';
import { Task } from '../tasks/registry.js';
import { ProgressStore, StageState } from './progress-store.js';
import { ensureQueue, QueueNames } from './pubsub.js';

export interface PublishOptions extends QueueNames {
  progressUrl: string;
  /** How often to look at the done markers, ms. */
  pollMs?: number;
  /** Stop waiting after this long, ms (default: no limit). */
  timeoutMs?: number;
}

export async function publishPlan(plan: Plan, opts: PublishOptions): Promise<void> {
  const { topic } = await ensureQueue(opts);
  const progress = new ProgressStore(opts.progressUrl);
  const stages: StageState[] = plan.stages.map((s) => ({ tasks: s.length, published: false }));
  await progress.savePlan(plan, stages);
  const published = { plan, stages };
  logEvent('INFO', 'publishing plan', { tasks: planSize(plan), stages: stages.length, topic: opts.topic, progress: opts.progressUrl });
  const started = Date.now();
  for (const [i, stage] of plan.stages.entries()) {
    await Promise.all(stage.map((task: Task) => topic.publishMessage({
      data: Buffer.from(JSON.stringify(task)),
      attributes: { progress: opts.progressUrl, stage: String(i) },
    })));
    stages[i].published = true;
    await progress.saveStages(stages);
    logEvent('INFO', 'stage published', { stage: i, tasks: stage.length });
    for (;;) {
      const status = await progress.stageStatus(i, published);
      if (status.dead > 0) throw new Error(`stage ${i + 1}: ${status.dead} task(s) dead-lettered after ${opts.maxAttempts} attempts (see ${opts.progressUrl}/dead/${i}/); later stages not published`);
      if (status.done === status.tasks) break;
      if (opts.timeoutMs !== undefined && Date.now() - started > opts.timeoutMs) throw new Error(`stage ${i + 1}: ${status.done}/${status.tasks} done after ${opts.timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 2000));
    }
    logEvent('INFO', 'stage done', { stage: i, seconds: (Date.now() - started) / 1000 });
  }
}
