// `digest work`: pulls tasks from a Pub/Sub subscription and runs them on the worker pool.
// - Flow control: the worker pulls (synchronous pull) only as many messages as it has room for:
//   threads running plus `prefetch` waiting. Waiting messages' input chunks are read while they wait
//   (runtime/prefetch.ts). Synchronous pull, not streaming pull, so that Pub/Sub never hands one worker
//   more than it asked for: a worker that dies then holds few messages, and they come back to the
//   others when its ack deadline passes.
// - The worker extends the ack deadline of every message it holds while it holds it (up to the task
//   time limit), acks after the task's output is written and its index is in the worker's record
//   (queue/progress/store.ts: one object per worker and stage, rewritten, never one per task), and
//   nacks (ack deadline 0) when the task fails transiently; Pub/Sub redelivers it with backoff and,
//   after the subscription's max delivery attempts, moves it to the dead-letter topic. The last failed
//   attempt is recorded as dead with its error. A task the stage's records already count as done (a
//   message published twice) is acked without running.
// - Prefetching is bounded by bytes as well as messages: a waiting message's inputs are read ahead
//   only while the bytes held for waiting messages stay under the budget.
// - A message that can never succeed (not JSON, not a valid task, or a task that fails on invalid
//   input or corrupt data) is dead-lettered at once: published to the dead-letter topic, marked dead,
//   and acked.
// - SIGTERM/SIGINT: waiting messages are nacked at once (another worker takes them), running tasks
//   finish and are acked, then the process exits 0. Tasks are idempotent, so a redelivery after a
//   crash rewrites the same bytes.
// - With exitWhenIdleSeconds the worker exits once nothing has arrived for that long and nothing runs.
// - A worker started before its subscription exists waits for it (readiness 503 meanwhile).
// - A range message (attribute `count`: tasks index .. index + count - 1 of its stage) is expanded
//   here from the plan and run task by task (the next one's inputs read while one runs), each
//   recorded as it finishes, and acked when all are: a stage of 10^8 tasks is 10^6 messages, and a
//   redelivery runs only what is not done.
import { Subscription, v1 } from '@google-cloud/pubsub';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { InvalidInput, messageOf } from '../../common/errors.js';
import { execute, Outcome } from '../../runtime/executor.js';
import { logEvent } from '../../common/log.js';
import { parseTask, Task } from '../../tasks/registry.js';
import { MAX_STAGE_TASKS, Stage, stageSize, taskAt } from '../../tasks/plan/format.js';
import { Config } from '../../runtime/config.js';
import { serveHealth } from '../../server/health.js';
import { prefetchInputs, PrefetchedObject } from '../../runtime/prefetch.js';
import { Bitmap, ProgressStore, Recorder } from '../progress/store.js';
import { pubsub } from './client.js';
import { createTaskPool, TaskPool } from '../../runtime/pool.js';

export interface WorkOptions {
  subscription: string;
  config: Config;
  /** Messages held beyond the running ones, their inputs read ahead; 0 turns prefetching off. */
  prefetch: number;
  /** Bytes of read-ahead inputs held for waiting messages, at most (default 1 GiB). */
  prefetchBytes?: number;
  exitWhenIdleSeconds?: number;
  healthPort?: number;
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
  /** When the worker got it: leases are not extended past the task time limit. */
  since: number;
  task?: Task;
  /** Why the message is not a valid task. */
  invalid?: unknown;
  inputs: Promise<PrefetchedObject[]>;
  /** Bytes counted against the prefetch budget while it waits. */
  reserved: number;
  /** Where its completion is recorded: the plan's progress store, its stage and index. */
  progress?: { store: ProgressStore; stage: number; index: number; tasks: number };
  /** A range message: tasks index .. index + range - 1 of its stage, made here from the plan. */
  range?: number;
}

/** One stage's recorder in this worker, and the stage's known-done tasks (refreshed now and then). */
interface StageBook {
  recorder: Recorder;
  known: Bitmap;
  refreshed: number;
}

/** How often a worker re-reads a stage's records to learn which tasks are done elsewhere. */
const KNOWN_DONE_REFRESH_MS = 30_000;

/** gRPC's NOT_FOUND, and the longest wait between looks for a subscription that does not exist yet. */
const NOT_FOUND = 5,
  SUBSCRIPTION_WAIT_MAX_MS = 30_000;

export async function work(opts: WorkOptions): Promise<WorkSummary> {
  const worker = new PubSubWorker(opts);
  try {
    // Inside the try: a start that fails (no subscription after exitWhenIdleSeconds) still closes
    // the health server, signal handlers, client and pool.
    await worker.start();
    await worker.pullUntilDrained();
  } finally {
    await worker.stop();
  }
  return worker.summary;
}

class PubSubWorker {
  readonly summary: WorkSummary = { done: 0, failed: 0, voxels: 0, seconds: 0 };
  private readonly started = Date.now();
  private readonly threads: number;
  private readonly pool: TaskPool;
  private readonly client: v1.SubscriberClient;
  private subscription = '';
  private deadLetterTopic?: string;
  private maxAttempts = Infinity;
  private readonly ackDeadline: number;
  private readonly waiting: Held[] = [];
  private readonly held = new Map<string, Held>(); // every message not yet acked or nacked
  private running = 0;
  private draining = false;
  private subscribed = false;
  private lastActivity = Date.now();
  private wake: () => void = () => {};
  private health?: Server;
  private readonly name = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly books = new Map<string, Promise<StageBook>>();
  private prefetchedBytes = 0;
  private leaseTimer?: NodeJS.Timeout;
  private readonly onTerm = () => this.drain('SIGTERM');
  private readonly onInt = () => this.drain('SIGINT');

  constructor(private readonly opts: WorkOptions) {
    this.threads = opts.config.threads;
    this.pool = createTaskPool(opts.config);
    this.client = new v1.SubscriberClient(pubsub().options as ConstructorParameters<typeof v1.SubscriberClient>[0]);
    this.ackDeadline = Math.min(opts.maxAckDeadlineSeconds ?? 60, 600);
  }

  /**
   * Starts the health server and signal handlers, waits for the subscription to exist (reading its
   * dead-letter policy), then starts the lease timer. Pods may start before `digest publish` has made
   * the subscription: they wait, not ready (readiness 503), instead of crash-looping.
   */
  async start(): Promise<void> {
    process.on('SIGTERM', this.onTerm);
    process.on('SIGINT', this.onInt);
    if (this.opts.healthPort !== undefined) {
      this.health = await serveHealth(this.opts.healthPort, () => ({
        ok: this.subscribed && !this.draining,
        status: this.draining ? 'draining' : this.subscribed ? 'ok' : 'waiting for the subscription',
        running: this.running,
        waiting: this.waiting.length,
        done: this.summary.done,
        failed: this.summary.failed,
      }));
      logEvent('INFO', 'health server listening', { port: (this.health.address() as AddressInfo).port });
    }
    const handle = pubsub().subscription(this.opts.subscription);
    this.subscription = handle.name; // projects/<p>/subscriptions/<s>
    const metadata = await this.awaitSubscription(handle);
    if (!metadata) return; // drained while waiting
    this.subscribed = true;
    this.maxAttempts = metadata.deadLetterPolicy?.maxDeliveryAttempts ?? Infinity;
    this.deadLetterTopic = metadata.deadLetterPolicy?.deadLetterTopic ?? undefined;
    this.leaseTimer = setInterval(() => this.extendLeases(), (this.ackDeadline * 1000) / 3);
    logEvent('INFO', 'worker started', {
      subscription: this.opts.subscription,
      threads: this.threads,
      prefetch: this.opts.prefetch,
      maxAttempts: this.maxAttempts,
    });
  }

  /**
   * The subscription's metadata once it exists: NOT_FOUND is retried with backoff (1 s doubling to
   * 30 s) until it appears, the worker drains, or exitWhenIdleSeconds pass (then an error naming it).
   */
  private async awaitSubscription(handle: Subscription): Promise<Subscription['metadata'] | undefined> {
    const since = Date.now();
    for (let delay = 1000, attempt = 1; ; delay = Math.min(delay * 2, SUBSCRIPTION_WAIT_MAX_MS), attempt++) {
      try {
        const [metadata] = await handle.getMetadata();
        return metadata;
      } catch (e) {
        if ((e as { code?: number }).code !== NOT_FOUND) throw e;
        const limit = this.opts.exitWhenIdleSeconds;
        if (limit !== undefined && Date.now() - since >= limit * 1000) {
          throw new InvalidInput(`subscription ${this.opts.subscription} does not exist (waited ${limit} s); publish a plan to make it`, { cause: e });
        }
        if (attempt === 1) logEvent('INFO', 'waiting for the subscription', { subscription: this.opts.subscription });
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (this.draining) return undefined;
    }
  }

  /** The main loop: pull what there is room for, start what can run, until drained. */
  async pullUntilDrained(): Promise<void> {
    while (!this.draining) {
      const room = this.threads + this.opts.prefetch - this.running - this.waiting.length;
      if (room <= 0) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        continue;
      }
      for (const r of await this.pull(room)) this.receive(r);
      this.pump();
      this.exitIfIdle();
    }
    while (this.running > 0)
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
  }

  /** Nacks what is still held, closes the clients and the pool. */
  async stop(): Promise<void> {
    clearInterval(this.leaseTimer);
    process.off('SIGTERM', this.onTerm);
    process.off('SIGINT', this.onInt);
    await Promise.all([...this.held.values()].map((m) => this.settle(m, false)));
    await Promise.all([...this.books.values()].map((b) => b.then((x) => x.recorder.flush()).catch(() => {})));
    await this.client.close();
    await this.pool.close();
    await new Promise<void>((resolve) => (this.health ? this.health.close(() => resolve()) : resolve()));
    this.summary.seconds = (Date.now() - this.started) / 1000;
    logEvent('INFO', 'worker stopped', { ...this.summary, peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) });
  }

  private async pull(maxMessages: number): Promise<Received[]> {
    try {
      const [response] = await this.client.pull({ subscription: this.subscription, maxMessages }, { timeout: 10_000 });
      return response.receivedMessages ?? [];
    } catch (e) {
      if (!/DEADLINE_EXCEEDED|timed? ?out/i.test(messageOf(e))) {
        logEvent('WARNING', 'pull failed', { error: messageOf(e) });
        await new Promise((r) => setTimeout(r, 1000));
      }
      return [];
    }
  }

  /** Holds a pulled message: parses its task and starts reading its inputs. */
  private receive(r: Received): void {
    this.lastActivity = Date.now();
    const raw = r.message?.data ?? '';
    const m: Held = {
      ackId: r.ackId!,
      id: r.message?.messageId ?? '?',
      attributes: r.message?.attributes ?? {},
      data: typeof raw === 'string' ? Buffer.from(raw, 'base64').toString('utf8') : Buffer.from(raw).toString('utf8'),
      attempt: r.deliveryAttempt || 1,
      since: Date.now(),
      inputs: Promise.resolve([]),
      reserved: 0,
    };
    this.held.set(m.ackId, m);
    if (this.draining) {
      void this.settle(m, false);
      return;
    }
    try {
      // Both parsed before the task is kept: a message with bad attributes never runs its task.
      m.range = rangeOf(m.attributes);
      const task = m.range === undefined ? parseTask(m.data) : undefined;
      m.progress = progressOf(m.attributes);
      m.task = task;
    } catch (e) {
      m.task = undefined;
      m.invalid = e;
    }
    if (m.task && this.opts.prefetch > 0) this.prefetch(m);
    this.waiting.push(m);
  }

  /** Reads a waiting message's inputs ahead, if the bytes held for waiting messages allow. */
  private prefetch(m: Held): void {
    const budget = this.opts.prefetchBytes ?? 1 << 30;
    if (this.prefetchedBytes >= budget) return;
    m.inputs = prefetchInputs(m.task!, budget - this.prefetchedBytes).then((objects) => {
      if (!this.held.has(m.ackId)) return [];
      m.reserved = objects.reduce((n, o) => n + o.bytes.byteLength, 0);
      this.prefetchedBytes += m.reserved;
      return objects;
    });
  }

  /** A message's read-ahead bytes leave the budget once its task has them (or it is let go). */
  private release(m: Held): void {
    this.prefetchedBytes -= m.reserved;
    m.reserved = 0;
  }

  /** Starts waiting messages while threads are free. */
  private pump(): void {
    while (!this.draining && this.running < this.threads && this.waiting.length > 0) {
      const next = this.waiting.shift()!;
      this.running++;
      void this.execute(next).finally(() => {
        this.running--;
        this.lastActivity = Date.now();
        this.wake();
        this.pump();
      });
    }
  }

  /** Runs a held message (one task, or a range of them) and settles it. */
  private async execute(m: Held): Promise<void> {
    if (m.range !== undefined && m.invalid === undefined) return this.executeRange(m);
    const settled = await this.runOne(m);
    await this.settle(m, settled === 'ack');
  }

  /**
   * Runs a range message's tasks one after another (each made from the plan by its index; those the
   * records count as done are skipped), then acks it. A transient failure stops the range and nacks
   * it: the redelivery runs only what is not done. A task that cannot succeed, or fails its last
   * attempt, is recorded dead (and dead-lettered alone) and the rest go on; after a last attempt the
   * range is nacked, so that Pub/Sub moves it to the dead-letter topic. Draining stops between tasks.
   */
  private async executeRange(m: Held): Promise<void> {
    const p = m.progress!;
    const end = p.index + m.range!;
    let stage: Stage;
    let book: StageBook;
    try {
      book = await this.book(p);
      stage = (await p.store.plan()).stages[p.stage];
    } catch (e) {
      m.invalid = e;
      return this.settle(m, (await this.runOne(m)) === 'ack');
    }
    // The next task's inputs are read while one runs (one task's worth a running range, within the
    // prefetch budget), skipping tasks the records already count as done.
    const readAhead = (index: number): Promise<PrefetchedObject[]> =>
      this.opts.prefetch > 0 && index < end && !book.known.has(index) && !book.recorder.done.has(index)
        ? prefetchInputs(taskAt(stage, index), (this.opts.prefetchBytes ?? 1 << 30) - this.prefetchedBytes).catch(() => [])
        : Promise.resolve([]);
    let next = readAhead(p.index);
    let ack = true;
    for (let index = p.index; index < end; index++) {
      if (this.draining) {
        ack = false;
        break;
      }
      m.since = Date.now(); // the lease is kept up to the time limit of each task
      const task = taskAt(stage, index);
      const attributes: Record<string, string> = { ...m.attributes, index: String(index) };
      delete attributes.count; // (a child dead-lettered alone is one task)
      const inputs = next;
      next = readAhead(index + 1);
      const settled = await this.runOne({ ...m, task, inputs, data: JSON.stringify(task), attributes, range: undefined, progress: { ...p, index } });
      if (settled !== 'ack') ack = false;
      if (settled === 'retry') break;
    }
    await this.settle(m, ack);
  }

  /**
   * Runs one task through the executor: 'ack' when it is done (or known done, or dead-lettered at
   * once), 'retry' when it should come again, 'last' when its last attempt failed (recorded dead).
   */
  private async runOne(m: Held): Promise<'ack' | 'retry' | 'last'> {
    const p = m.progress;
    let book: StageBook | undefined;
    const where = p ? { stage: p.stage, index: p.index } : {};
    const outcome = await execute(
      { ...m, scope: p && `${p.store.url}#${p.stage}` },
      (task, inputs, scope) => this.pool.run(task, inputs, scope),
      this.maxAttempts,
      {
        alreadyDone: async () => {
          book = p && (await this.book(p));
          return book !== undefined && (book.known.has(p!.index) || book.recorder.done.has(p!.index));
        },
        started: () => {
          logEvent('INFO', 'task started', { task: m.task, attempt: m.attempt, id: m.id, ...where });
          this.release(m);
        },
        record: async () => {
          if (!book) return;
          book.recorder.finished(p!.index);
          await book.recorder.flush();
        },
      },
    );
    if (outcome.kind === 'skipped') {
      logEvent('INFO', 'task already done: acked without running', { id: m.id, ...where });
      return 'ack';
    }
    if (outcome.kind === 'done') {
      this.summary.done++;
      this.summary.voxels += outcome.result.voxels;
      logEvent('INFO', 'task done', {
        kind: m.task!.kind,
        id: m.id,
        attempt: m.attempt,
        seconds: outcome.seconds,
        voxels: outcome.result.voxels,
        backend: outcome.result.backend,
        ...where,
      });
      return 'ack';
    }
    this.summary.failed++;
    return this.fail(m, outcome, book);
  }

  /** The recorder of a message's stage in this worker, and what the stage's records say is done. */
  private book(p: NonNullable<Held['progress']>): Promise<StageBook> {
    const key = `${p.store.url}#${p.stage}`;
    let book = this.books.get(key);
    if (!book) {
      book = checkAgainstPlan(p)
        .then(() => p.store.stageState(p.stage, p.tasks))
        .then(({ done }) => ({ recorder: p.store.recorder(p.stage, p.tasks, this.name), known: done, refreshed: Date.now() }));
      book.catch(() => this.books.delete(key));
      this.books.set(key, book);
      return book;
    }
    return book.then(async (b) => {
      if (Date.now() - b.refreshed > KNOWN_DONE_REFRESH_MS) {
        b.refreshed = Date.now();
        b.known = (await p.store.stageState(p.stage, p.tasks)).done;
      }
      return b;
    });
  }

  /**
   * As the executor decided: a failure that a retry cannot fix is dead-lettered now; another is
   * nacked for redelivery, and on its last allowed attempt recorded as dead (Pub/Sub moves it to the
   * dead-letter topic).
   */
  private async fail(m: Held, outcome: Extract<Outcome, { kind: 'retry' | 'dead' }>, book: StageBook | undefined): Promise<'ack' | 'retry' | 'last'> {
    const error = messageOf(outcome.error);
    const permanent = outcome.kind === 'dead' && outcome.permanent;
    const last = outcome.kind === 'dead';
    const what = permanent
      ? 'task cannot succeed: dead-lettered at once'
      : last
        ? 'task failed its last attempt: dead-lettered'
        : 'task failed: will be retried';
    logEvent(last ? 'ERROR' : 'WARNING', what, { task: m.task ?? m.data, id: m.id, attempt: m.attempt, error });
    if (last) await this.recordDead(m, error, book);
    if (permanent && (await this.publishDeadLetter(m, error))) return 'ack';
    return last ? 'last' : 'retry';
  }

  /** A dead task goes into the worker's record of its stage (or, for a message that is no task, its own). */
  private async recordDead(m: Held, error: string, book: StageBook | undefined): Promise<void> {
    try {
      const p = m.progress ?? progressOf(m.attributes, true);
      const b = book ?? (p && (await this.book(p)));
      if (!b || !p) return;
      b.recorder.failed(p.index, error);
      await b.recorder.flush();
    } catch (err) {
      logEvent('WARNING', 'dead task not recorded', { id: m.id, error: messageOf(err) });
    }
  }

  /** Forwards a message to the subscription's dead-letter topic, as Pub/Sub would; false if it cannot. */
  private async publishDeadLetter(m: Held, error: string): Promise<boolean> {
    if (!this.deadLetterTopic) return false;
    try {
      await pubsub()
        .topic(this.deadLetterTopic)
        .publishMessage({
          data: Buffer.from(m.data),
          attributes: { ...m.attributes, error: error.slice(0, 1024), deliveryAttempt: String(m.attempt) },
        });
      return true;
    } catch (e) {
      logEvent('WARNING', 'dead-letter publish failed: nacked instead', { id: m.id, error: messageOf(e) });
      return false;
    }
  }

  private async settle(m: Held, ack: boolean): Promise<void> {
    this.held.delete(m.ackId);
    this.release(m);
    try {
      if (ack) await this.client.acknowledge({ subscription: this.subscription, ackIds: [m.ackId] });
      else await this.client.modifyAckDeadline({ subscription: this.subscription, ackIds: [m.ackId], ackDeadlineSeconds: 0 });
    } catch (e) {
      // The deadline passed meanwhile: Pub/Sub redelivers, and the task (idempotent) runs again.
      logEvent('WARNING', ack ? 'ack failed' : 'nack failed', { id: m.id, error: messageOf(e) });
    }
  }

  /** Keeps the leases of held messages alive, up to the task time limit. */
  private extendLeases(): void {
    const now = Date.now();
    const ackIds = [...this.held.values()].filter((m) => now - m.since < this.opts.config.taskTimeoutMs).map((m) => m.ackId);
    if (ackIds.length > 0) {
      this.client
        .modifyAckDeadline({ subscription: this.subscription, ackIds, ackDeadlineSeconds: this.ackDeadline })
        .catch((e) => logEvent('WARNING', 'lease extension failed', { error: messageOf(e) }));
    }
  }

  private exitIfIdle(): void {
    const idle = this.opts.exitWhenIdleSeconds;
    if (idle !== undefined && this.running === 0 && this.waiting.length === 0 && Date.now() - this.lastActivity > idle * 1000) {
      this.drain(`idle for ${idle} s`);
    }
  }

  private drain(why: string): void {
    if (this.draining) return;
    this.draining = true;
    logEvent('INFO', 'draining', { why, running: this.running, waiting: this.waiting.length });
    for (const m of this.waiting.splice(0)) void this.settle(m, false);
    this.wake();
  }
}

/** A range message's task count (attribute `count`); undefined for a message of one task. */
function rangeOf(a: Record<string, string>): number | undefined {
  if (a.count === undefined) return undefined;
  const count = /^\d{1,10}$/.test(a.count) ? Number(a.count) : NaN;
  const [index, tasks] = [a.index, a.tasks].map(Number);
  if (!(count >= 1) || !a.progress || !(index + count <= tasks))
    throw new InvalidInput(`message attributes index ${a.index}, count ${a.count}, tasks ${a.tasks} do not name a range of tasks of the plan at ${a.progress}`);
  return count;
}

/**
 * Where a message's completion is recorded, from its attributes (progress URL, stage, index, tasks);
 * undefined for a message published by hand without them. `lenient`: no throw on bad attributes.
 */
function progressOf(a: Record<string, string>, lenient = false): Held['progress'] {
  if (!a.progress) return undefined;
  const [stage, index, tasks] = [a.stage, a.index, a.tasks].map((x) => (/^\d{1,10}$/.test(x ?? '') ? Number(x) : NaN));
  if (![stage, index, tasks].every(Number.isSafeInteger) || index >= tasks || tasks > MAX_STAGE_TASKS) {
    if (lenient) return undefined;
    throw new InvalidInput(`message attributes stage ${a.stage}, index ${a.index}, tasks ${a.tasks} do not name a task of the plan at ${a.progress}`);
  }
  return { store: new ProgressStore(a.progress), stage, index, tasks };
}

/** The attributes' stage and task count must be the plan's, before anything is sized by them. */
async function checkAgainstPlan(p: NonNullable<Held['progress']>): Promise<void> {
  const plan = await p.store.plan();
  const stage = plan.stages[p.stage];
  if (!stage || stageSize(stage) !== p.tasks) {
    throw new InvalidInput(
      `message attributes stage ${p.stage}, tasks ${p.tasks} are not a stage of the plan at ${p.store.url} (${plan.stages.length} stages${stage ? `, stage ${p.stage} has ${stageSize(stage)} tasks` : ''})`,
    );
  }
}
