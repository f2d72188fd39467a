// The embedded in-process queue: hands out a stage's tasks as they are generated (never the whole
// list), takes back the ones the executor says to retry (with backoff), and sets aside the dead ones
// (with their last error) instead of losing them. What a failure means is the executor's decision
// (runtime/executor.ts): a permanent one is dead at once, another after maxAttempts.
import { messageOf } from '../../common/errors.js';
import { failureOutcome, Outcome } from '../../runtime/executor.js';
import { Task, taskId } from '../../tasks/registry.js';

export interface Lease {
  id: string;
  index: number;
  task: Task;
  /** 1 for the first try. */
  attempt: number;
}

export interface DeadTask {
  index: number;
  task: Task;
  attempts: number;
  error: string;
}

interface Waiting {
  index: number;
  task: Task;
  attempt: number;
  readyAt: number;
}

export class LocalQueue {
  private readonly retrying: Waiting[] = [];
  private readonly leased = new Map<string, Waiting>();
  private exhausted = false;
  readonly dead: DeadTask[] = [];
  done = 0;
  retries = 0;

  /** `tasks` is drawn from lazily; an array works too. */
  constructor(
    private readonly tasks: Iterator<{ index: number; task: Task }>,
    readonly opts: { maxAttempts?: number; retryDelayMs?: number } = {},
  ) {}

  static of(tasks: Task[], opts?: { maxAttempts?: number; retryDelayMs?: number }): LocalQueue {
    return new LocalQueue(tasks.map((task, index) => ({ index, task }))[Symbol.iterator](), opts);
  }

  get maxAttempts(): number {
    return this.opts.maxAttempts ?? 3;
  }

  /** Up to `max` tasks that are ready now: retries whose backoff has passed first, then new ones. */
  lease(max: number): Lease[] {
    const now = Date.now();
    const out: Lease[] = [];
    for (let i = 0; i < this.retrying.length && out.length < max;) {
      if (this.retrying[i].readyAt > now) {
        i++;
        continue;
      }
      out.push(this.hold(this.retrying.splice(i, 1)[0]));
    }
    while (out.length < max && !this.exhausted) {
      const next = this.tasks.next();
      if (next.done) {
        this.exhausted = true;
        break;
      }
      out.push(this.hold({ ...next.value, attempt: 1, readyAt: 0 }));
    }
    return out;
  }

  private hold(w: Waiting): Lease {
    const id = `${taskId(w.task)}#${w.index}#${w.attempt}`;
    this.leased.set(id, w);
    return { id, index: w.index, task: w.task, attempt: w.attempt };
  }

  ack(lease: Lease): void {
    if (this.leased.delete(lease.id)) this.done++;
  }

  /** A failed lease, as the executor decides (retry or dead). */
  nack(lease: Lease, error: unknown): void {
    this.settle(lease, failureOutcome(error, lease.attempt, this.maxAttempts));
  }

  /** Settles a lease by what the executor says became of it. */
  settle(lease: Lease, outcome: Outcome): void {
    if (outcome.kind === 'done' || outcome.kind === 'skipped') {
      this.ack(lease);
      return;
    }
    const w = this.leased.get(lease.id);
    if (!w) return;
    this.leased.delete(lease.id);
    if (outcome.kind === 'dead') {
      this.dead.push({ index: w.index, task: w.task, attempts: w.attempt, error: messageOf(outcome.error) });
      return;
    }
    this.retries++;
    const delay = (this.opts.retryDelayMs ?? 200) * 2 ** (w.attempt - 1);
    this.retrying.push({ ...w, attempt: w.attempt + 1, readyAt: Date.now() + delay });
  }

  /** Milliseconds until the next retry is ready (0 if new tasks remain), or null if nothing waits. */
  nextReadyIn(): number | null {
    if (!this.exhausted) return 0;
    if (this.retrying.length === 0) return null;
    return Math.max(0, this.retrying.reduce((t, w) => Math.min(t, w.readyAt), Infinity) - Date.now());
  }

  get inFlight(): number {
    return this.leased.size;
  }

  get drained(): boolean {
    return this.exhausted && this.retrying.length === 0 && this.leased.size === 0;
  }
}
