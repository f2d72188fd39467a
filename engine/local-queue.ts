// The embedded in-process queue: leases tasks, takes them back on failure with backoff, and after
// maxAttempts failures sets them aside as dead (with their last error) instead of losing them. A
// permanent failure (invalid input, corrupt data) is set aside at once: no retry can fix it.
import { isPermanent, messageOf } from '../common/errors.js';
import { Task, taskId } from '../tasks/registry.js';

export interface Lease {
  id: string;
  task: Task;
  /** 1 for the first try. */
  attempt: number;
}

export interface DeadTask {
  task: Task;
  attempts: number;
  error: string;
}

interface Waiting { task: Task; attempt: number; readyAt: number }

export class LocalQueue {
  private readonly waiting: Waiting[] = [];
  private readonly leased = new Map<string, Waiting>();
  readonly dead: DeadTask[] = [];
  done = 0;
  retries = 0;

  constructor(tasks: Task[], readonly opts: { maxAttempts?: number; retryDelayMs?: number } = {}) {
    for (const task of tasks) this.waiting.push({ task, attempt: 1, readyAt: 0 });
  }

  get maxAttempts(): number {
    return this.opts.maxAttempts ?? 3;
  }

  /** Up to `max` tasks that are ready now. */
  lease(max: number): Lease[] {
    const now = Date.now();
    const out: Lease[] = [];
    for (let i = 0; i < this.waiting.length && out.length < max; ) {
      const w = this.waiting[i];
      if (w.readyAt > now) { i++; continue; }
      this.waiting.splice(i, 1);
      const id = `${taskId(w.task)}#${w.attempt}`;
      this.leased.set(id, w);
      out.push({ id, task: w.task, attempt: w.attempt });
    }
    return out;
  }

  ack(lease: Lease): void {
    if (this.leased.delete(lease.id)) this.done++;
  }

  nack(lease: Lease, error: unknown): void {
    const w = this.leased.get(lease.id);
    if (!w) return;
    this.leased.delete(lease.id);
    const message = messageOf(error);
    if (w.attempt >= this.maxAttempts || isPermanent(error)) {
      this.dead.push({ task: w.task, attempts: w.attempt, error: message });
      return;
    }
    this.retries++;
    const delay = (this.opts.retryDelayMs ?? 200) * 2 ** (w.attempt - 1);
    this.waiting.push({ task: w.task, attempt: w.attempt + 1, readyAt: Date.now() + delay });
  }

  /** Milliseconds until the next waiting task is ready (0 if one is ready now), or null if none waits. */
  nextReadyIn(): number | null {
    if (this.waiting.length === 0) return null;
    return Math.max(0, Math.min(...this.waiting.map((w) => w.readyAt)) - Date.now());
  }

  get inFlight(): number {
    return this.leased.size;
  }

  get drained(): boolean {
    return this.waiting.length === 0 && this.leased.size === 0;
  }
}
