// `digest work`: pulls tasks from a Pub/Sub subscription and runs them on the worker pool.
// - Flow control: the worker pulls (synchronous pull) only as many messages as it has room for:
//   threads running plus `prefetch` waiting. Waiting messages' input chunks are read while they wait
//   (engine/prefetch.ts). Synchronous pull, not streaming pull, so that Pub/Sub never hands one worker
//   more than it asked for: a worker that dies then holds few messages, and they come back to the
//   others when its ack deadline passes.
// - The worker extends the ack deadline of every message it holds while it holds it (up to
//   --max-task-minutes), acks after the task's output and done marker are written, and nacks (ack
//   deadline 0) when the task fails; Pub/Sub redelivers it with backoff and, after the
//   subscription's max delivery attempts, moves it to the dead-letter topic. The last failed attempt
//   also writes a dead marker with the error.
// - SIGTERM/SIGINT: waiting messages are nacked at once (another worker takes them), running tasks
//   finish and are acked, then the process exits 0. Tasks are idempotent, so a redelivery after a
//   crash rewrites the same bytes.
// - With --exit-when-idle S the worker exits once nothing has arrived for S seconds and nothing runs.
import { v1 } from '@google-cloud/pubsub';
import { Server } from 'node:http';
import { parseTask, Task, TaskResult } from '../tasks/task.js';
import { serveHealth } from './health.js';
import { logEvent } from './log.js';
import { prefetchInputs, PrefetchedObject } from './prefetch.js';
import { markerId, ProgressStore } from './progress-store.js';
import { pubsub } from './pubsub.js';
import { createTaskPool, TaskPool } from './pool.js';

export interface WorkOptions {
  subscription: string;
  threads: number;
  /** Messages held beyond the running ones, their inputs read ahead; 0 turns prefetching off. */
  prefetch: number;
  exitWhenIdleSeconds?: number;
  healthPort?: number;
  maxTaskMinutes?: number;
  /** Upper bound of each lease extension, seconds: how soon a crashed worker's tasks come back. */
  maxAckDeadlineSeconds?: number;
}

export interface WorkSummary {
  done: number;
  failed: number;
  voxels: number;
  seconds: number;
}

/** A message as synchronous pull returns it. */
interface Received {
  ackId?: string | null;
  deliveryAttempt?: number | null;
  message?: { data?: Uint8Array | string | null; messageId?: string | null; attributes?: Record<string, string> | null } | null;
}

interface Held {
  ackId: string;
  id: string;
  data: string;
  attributes: Record<string, string>;
  attempt: number;
  /** When the worker got it: leases are not extended past --max-task-minutes. */
  since: number;
  task?: Task;
  error?: string;
  inputs: Promise<PrefetchedObject[]>;
}

export async function work(opts: WorkOptions): Promise<WorkSummary> {
  const started = Date.now();
  const pool: TaskPool = createTaskPool(opts.threads);
  const client = new v1.SubscriberClient(pubsub().options as ConstructorParameters<typeof v1.SubscriberClient>[0]);
  const handle = pubsub().subscription(opts.subscription);
  const subscription = handle.name; // projects/<p>/subscriptions/<s>
  const [metadata] = await handle.getMetadata();
  const maxAttempts = metadata.deadLetterPolicy?.maxDeliveryAttempts ?? Infinity;
  const ackDeadline = Math.min(opts.maxAckDeadlineSeconds ?? 60, 600);
  const maxHoldMs = (opts.maxTaskMinutes ?? 60) * 60_000;
  const summary: WorkSummary = { done: 0, failed: 0, voxels: 0, seconds: 0 };
  const waiting: Held[] = [];
  const held = new Map<string, Held>(); // every message not yet acked or nacked
  let running = 0;
  let draining = false;
  let lastActivity = Date.now();
  let wake: () => void = () => {};

  const health: Server | undefined = opts.healthPort === undefined ? undefined
    : await serveHealth(opts.healthPort, () => ({ ok: !draining, running, waiting: waiting.length, done: summary.done, failed: summary.failed }));

  const settle = async (m: Held, ack: boolean) => {
    held.delete(m.ackId);
    try {
      if (ack) await client.acknowledge({ subscription, ackIds: [m.ackId] });
      else await client.modifyAckDeadline({ subscription, ackIds: [m.ackId], ackDeadlineSeconds: 0 });
    } catch (e) {
      // The deadline passed meanwhile: Pub/Sub redelivers, and the task (idempotent) runs again.
      logEvent('WARNING', ack ? 'ack failed' : 'nack failed', { id: m.id, error: (e as Error).message });
    }
  };

  // Keep the leases of held messages alive.
  const leaseTimer = setInterval(() => {
    const now = Date.now();
    const ackIds = [...held.values()].filter((m) => now - m.since < maxHoldMs).map((m) => m.ackId);
    if (ackIds.length > 0) client.modifyAckDeadline({ subscription, ackIds, ackDeadlineSeconds: ackDeadline })
      .catch((e) => logEvent('WARNING', 'lease extension failed', { error: (e as Error).message }));
  }, (ackDeadline * 1000) / 3);

  async function execute(m: Held): Promise<void> {
    const progress = m.attributes.progress ? new ProgressStore(m.attributes.progress) : undefined;
    const t0 = Date.now();
    try {
      if (!m.task) throw new Error(m.error);
      logEvent('INFO', 'task started', { task: m.task, attempt: m.attempt, id: m.id });
      const result: TaskResult = await pool.run(m.task, await m.inputs);
      const seconds = (Date.now() - t0) / 1000;
      await progress?.markDone(m.task, m.attributes.stage ?? '_', { seconds, attempt: m.attempt, voxels: result.voxels, backend: result.backend, time: new Date().toISOString() });
      await settle(m, true);
      summary.done++;
      summary.voxels += result.voxels;
      logEvent('INFO', 'task done', { kind: m.task.kind, id: m.id, attempt: m.attempt, seconds, voxels: result.voxels, backend: result.backend });
    } catch (e) {
      const error = (e as Error).message;
      summary.failed++;
      const last = m.attempt >= maxAttempts;
      logEvent(last ? 'ERROR' : 'WARNING', last ? 'task failed its last attempt: dead-lettered' : 'task failed: will be retried', { task: m.task ?? m.data, id: m.id, attempt: m.attempt, error });
      if (last) await progress?.markDead(m.task ?? m.data, m.attributes.stage ?? '_', m.task ? markerId(m.task) : `message-${m.id}`, { error, attempts: m.attempt, time: new Date().toISOString() }).catch(() => {});
      await settle(m, false);
    }
  }

  function pump(): void {
    while (!draining && running < opts.threads && waiting.length > 0) {
      const next = waiting.shift()!;
      running++;
      void execute(next).finally(() => {
        running--;
        lastActivity = Date.now();
        wake();
        pump();
      });
    }
  }

  const drain = (why: string) => {
    if (draining) return;
    draining = true;
    logEvent('INFO', 'draining', { why, running, waiting: waiting.length });
    for (const m of waiting.splice(0)) void settle(m, false);
    wake();
  };
  const onTerm = () => drain('SIGTERM'), onInt = () => drain('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);

  logEvent('INFO', 'worker started', { subscription: opts.subscription, threads: opts.threads, prefetch: opts.prefetch, maxAttempts });
  while (!draining) {
    const room = opts.threads + opts.prefetch - running - waiting.length;
    if (room <= 0) {
      await new Promise<void>((resolve) => { wake = resolve; });
      continue;
    }
    let received: Received[] = [];
    try {
      const [response] = await client.pull({ subscription, maxMessages: room }, { timeout: 10_000 });
      received = response.receivedMessages ?? [];
    } catch (e) {
      if (!/DEADLINE_EXCEEDED|timed? ?out/i.test((e as Error).message)) {
        logEvent('WARNING', 'pull failed', { error: (e as Error).message });
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    for (const r of received) {
      lastActivity = Date.now();
      const raw = r.message?.data ?? '';
      const data = typeof raw === 'string' ? Buffer.from(raw, 'base64').toString('utf8') : Buffer.from(raw).toString('utf8');
      const m: Held = {
        ackId: r.ackId!, id: r.message?.messageId ?? '?', data, attributes: r.message?.attributes ?? {},
        attempt: r.deliveryAttempt || 1, since: Date.now(), inputs: Promise.resolve([]),
      };
      held.set(m.ackId, m);
      if (draining) { void settle(m, false); continue; }
      try {
        m.task = parseTask(data);
      } catch (e) {
        m.error = (e as Error).message;
      }
      if (m.task && opts.prefetch > 0) m.inputs = prefetchInputs(m.task);
      waiting.push(m);
    }
    pump();
    if (opts.exitWhenIdleSeconds !== undefined && running === 0 && waiting.length === 0 && Date.now() - lastActivity > opts.exitWhenIdleSeconds * 1000) {
      drain(`idle for ${opts.exitWhenIdleSeconds} s`);
    }
  }
  while (running > 0) await new Promise<void>((resolve) => { wake = resolve; });
  clearInterval(leaseTimer);
  process.off('SIGTERM', onTerm);
  process.off('SIGINT', onInt);
  await Promise.all([...held.values()].map((m) => settle(m, false)));
  await client.close();
  await pool.close();
  await new Promise<void>((resolve) => (health ? health.close(() => resolve()) : resolve()));
  summary.seconds = (Date.now() - started) / 1000;
  logEvent('INFO', 'worker stopped', { ...summary, peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) });
  return summary;
}
