// `digest publish`: sends a plan's tasks to Pub/Sub one stage at a time, generating them by index
// (the plan is a description; no task list is held), with a bounded number of publishes in flight;
// a stage of more than MAX_STAGE_MESSAGES tasks goes in ranges (one message names tasks i .. i + k - 1,
// which the workers make from the plan).
// A stage is published once every task of the stage before it is done (the workers' records, which
// are counted, never listed per task), since later stages read what earlier ones wrote. How far each
// stage was published is recorded, so a publisher killed and started again goes on from there: a
// window of at most `maxInFlight` tasks may be published twice, and runs twice at most (tasks are
// idempotent; workers skip tasks they know are done; counts never count a task twice).
import { logEvent } from '../../common/log.js';
import { Plan, planSize, stageSize, stageTasks } from '../../tasks/plan/format.js';
import { ProgressStore } from '../progress/store.js';
import { ensureQueue, QueueNames } from './client.js';

export interface PublishOptions extends QueueNames {
  progressUrl: string;
  /** How often to read the stage's progress, ms. */
  pollMs?: number;
  /** Stop waiting after this long, ms (default: no limit). */
  timeoutMs?: number;
  /** Publishes not yet confirmed by Pub/Sub, at most. */
  maxInFlight?: number;
  /** Tasks a message carries (a range the workers expand from the plan); default: as many as keep a stage to MAX_STAGE_MESSAGES. */
  tasksPerMessage?: number;
  /** Called after each poll (tests, benchmarks). */
  onPoll?: (stage: number, status: Awaited<ReturnType<ProgressStore['stageStatus']>>) => void;
}

export async function publishPlan(plan: Plan, opts: PublishOptions): Promise<void> {
  const { topic } = await ensureQueue(opts);
  const progress = new ProgressStore(opts.progressUrl);
  if (await progress.adopt(plan)) logEvent('INFO', 'resuming a published plan', { progress: progress.url });
  logEvent('INFO', 'publishing plan', { tasks: planSize(plan), stages: plan.stages.length, topic: opts.topic, progress: opts.progressUrl });
  const started = Date.now();
  for (const [i, stage] of plan.stages.entries()) {
    const n = stageSize(stage);
    let published = await progress.published(i);
    if (published < n) {
      const from = published;
      const perMessage = opts.tasksPerMessage ?? Math.ceil(n / MAX_STAGE_MESSAGES);
      published = await publishStage(
        plan,
        i,
        from,
        progress,
        (data, attributes) => topic.publishMessage({ data, attributes }),
        opts.maxInFlight ?? 1000,
        perMessage,
      );
      logEvent('INFO', 'stage published', { stage: i, name: stage.name, tasks: n, from, tasksPerMessage: perMessage });
    }
    await waitForStage(progress, i, opts, started);
    logEvent('INFO', 'stage done', { stage: i, name: stage.name, seconds: (Date.now() - started) / 1000 });
  }
}

/**
 * Messages a stage is published in at most, by default: tasks beyond it go in ranges. One publisher
 * put 20,000 messages a second into the emulator alone and 3,260 beside two workers on the same two
 * cores (bench/RESULTS.md), so 10^6 messages take under a minute to ten minutes, 10^8 one-task
 * messages 1.5 to 9 hours.
 */
export const MAX_STAGE_MESSAGES = 1_000_000;

/**
 * Publishes tasks [from, n) of stage `s` in index order, `perMessage` a message (a task, or a range
 * of them the workers expand), at most `maxInFlight` messages unconfirmed, and records the confirmed
 * prefix every `maxInFlight` messages (at most every thousand). Returns n.
 */
async function publishStage(
  plan: Plan,
  s: number,
  from: number,
  progress: ProgressStore,
  send: (data: Buffer, attributes: Record<string, string>) => Promise<string>,
  maxInFlight: number,
  perMessage = 1,
): Promise<number> {
  const stage = plan.stages[s];
  const n = stageSize(stage);
  // Confirmed first indices past the confirmed prefix; the window past the prefix is bounded too.
  const confirmed = new Set<number>();
  let prefix = from,
    recorded = from;
  const inFlight = new Set<Promise<unknown>>();
  const attributes = { progress: progress.url, stage: String(s), tasks: String(n) };
  const messages =
    perMessage > 1
      ? (function* () {
          for (let index = from; index < n; index += perMessage) {
            const count = Math.min(perMessage, n - index);
            yield { index, data: { task_range: { stage: s, from: index, count } }, extra: { count: String(count) } };
          }
        })()
      : (function* () {
          for (const { index, task } of stageTasks(stage, from)) yield { index, data: task, extra: {} };
        })();
  for (const { index, data, extra } of messages) {
    while (inFlight.size >= maxInFlight || (inFlight.size > 0 && index - prefix >= 4 * maxInFlight * perMessage)) await Promise.race(inFlight);
    const p: Promise<void> = send(Buffer.from(JSON.stringify(data)), { ...attributes, ...extra, index: String(index) })
      .then(() => {
        confirmed.add(index);
        while (confirmed.delete(prefix)) prefix = Math.min(n, prefix + perMessage);
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (prefix - recorded >= Math.min(1000, maxInFlight) * perMessage) {
      recorded = prefix;
      await progress.setPublished(s, recorded);
    }
  }
  await Promise.all(inFlight);
  await progress.setPublished(s, n);
  return n;
}

async function waitForStage(progress: ProgressStore, i: number, opts: PublishOptions, started: number): Promise<void> {
  let lastDone = -1;
  for (;;) {
    const status = await progress.stageStatus(i);
    opts.onPoll?.(i, status);
    if (status.done !== lastDone) {
      lastDone = status.done;
      logEvent('INFO', 'stage progress', {
        stage: i,
        done: status.done,
        dead: status.dead,
        backlog: status.backlog,
        tasks: status.tasks,
        ...(status.etaSeconds !== undefined ? { etaSeconds: Math.round(status.etaSeconds) } : {}),
      });
    }
    if (status.dead > 0)
      throw new Error(
        `stage ${i + 1}: ${status.dead} task(s) dead-lettered after ${opts.maxAttempts} attempts (see ${opts.progressUrl}/records/${i}/); later stages not published`,
      );
    if (status.done === status.tasks) return;
    if (opts.timeoutMs !== undefined && Date.now() - started > opts.timeoutMs)
      throw new Error(`stage ${i + 1}: ${status.done}/${status.tasks} done after ${opts.timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 2000));
  }
}
