// Progress of a plan, kept in a store (file:// or gs://) that every worker can reach, counted without
// listing one object per task:
//   plan.json                   the plan (a description: stages of task sets)
//   published/<stage>           how many of the stage's tasks (in index order) have been published
//   records/<stage>/<recorder>  one per worker process (or local run): the task indices it finished
//                               (as runs), the ones it gave up on with their errors, and its timing
// Status reads the records of a stage (one per process that ever worked on it: a bounded number) and
// unions their bitmaps, so duplicate deliveries never count twice and the count is exact. A record is
// written before the tasks in it are acknowledged, so "done" always means the output is complete.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import * as v from 'valibot';
import { CorruptData, InvalidInput } from '../../common/errors.js';
import { count, parseJson, record, text } from '../../common/schema.js';
import { parsePlan, Plan, stageSize } from '../../tasks/plan/format.js';
import { openStore } from '../../storage/open.js';
import { listAll, MAX_JSON_BYTES, MAX_SMALL_JSON_BYTES, Store } from '../../storage/store.js';
import { Limiter } from '../../storage/limit.js';

const recordSchema = record({
  recorder: text,
  stage: count,
  tasks: count,
  first: count,
  updated: count,
  done: count,
  /** The finished task indices as runs (encodeRuns), base64; or, in records of older workers: */
  runs: v.optional(v.string()),
  /** gzip of the bitmap (bit i: task i done), base64. */
  bitmap: v.optional(v.string()),
  dead: v.array(v.tuple([count, v.string()]), 'must be [index, error] pairs'),
  /** [time, done] at recent flushes (oldest first, one per RECENT_SAMPLE_MS, the last RECENT_WINDOW_MS): the recent rate. */
  recent: v.optional(v.pipe(v.array(v.tuple([count, count]), 'must be [time, done] pairs'), v.maxLength(64, 'must have at most 64 samples'))),
});
type RecordJson = v.InferOutput<typeof recordSchema>;

/** The window the ETA's rate is measured over, and the spacing of the samples a record keeps of it. */
export const RECENT_WINDOW_MS = 5 * 60_000,
  RECENT_SAMPLE_MS = 15_000;

/** Records read at once by status (each up to a few MiB at 10^8 tasks). */
const RECORD_READS = 16;

const json = (value: unknown) => new TextEncoder().encode(`${JSON.stringify(value)}\n`);

export interface StageStatus {
  name: string;
  tasks: number;
  published: number;
  done: number;
  dead: number;
  /** Published and neither done nor dead. */
  backlog: number;
  /**
   * Tasks per second: over the last RECENT_WINDOW_MS of the records that flushed within it (a
   * stopped worker adds nothing), else over the stage's records so far; and the time left at it.
   */
  rate?: number;
  etaSeconds?: number;
}

/** Bits of finished task indices, with a count. */
export class Bitmap {
  constructor(readonly bits: Uint8Array) {}
  static of(tasks: number): Bitmap {
    return new Bitmap(new Uint8Array(Math.ceil(tasks / 8)));
  }
  has(i: number): boolean {
    return (this.bits[i >> 3] & (1 << (i & 7))) !== 0;
  }
  add(i: number): void {
    this.bits[i >> 3] |= 1 << (i & 7);
  }
  /** Sets bits [start, end): whole bytes at once. */
  addRange(start: number, end: number): void {
    let i = start;
    for (; i < end && i & 7; i++) this.add(i);
    const whole = i + 8 * Math.floor((end - i) / 8);
    this.bits.fill(255, i >> 3, whole >> 3);
    for (i = whole; i < end; i++) this.add(i);
  }
  or(other: Bitmap): void {
    for (let i = 0; i < this.bits.length; i++) this.bits[i] |= other.bits[i] ?? 0;
  }
  count(): number {
    let n = 0;
    for (const b of this.bits) {
      let x = b;
      while (x) {
        x &= x - 1;
        n++;
      }
    }
    return n;
  }
}

/**
 * The set bits of a bitmap as runs: for each run of consecutive indices, LEB128 varints of its gap
 * from the end of the one before (from 0) and its length. A worker's record is then a few bytes a
 * run, not a bitmap of the whole stage: contiguous tasks (ranges) cost almost nothing, scattered
 * ones two or three bytes each.
 */
export function encodeRuns(done: Bitmap): Uint8Array {
  const bits = done.bits;
  const out: number[] = [];
  const varint = (x: number) => {
    for (; x >= 0x80; x = Math.floor(x / 0x80)) out.push((x % 0x80) | 0x80);
    out.push(x);
  };
  let end = 0; // where the last run ended
  let start = -1; // the run being read, if any
  // Whole words, then bytes, of zeros (outside a run) or ones (inside one) hold no run's start or end.
  const words = bits.byteOffset % 4 === 0 ? new Uint32Array(bits.buffer, bits.byteOffset, bits.length >> 2) : new Uint32Array(0);
  for (let byte = 0; byte < bits.length; byte++) {
    if ((byte & 3) === 0 && byte >> 2 < words.length) {
      const w = words[byte >> 2];
      if ((w === 0 && start < 0) || (w === 0xffffffff && start >= 0)) {
        byte += 3;
        continue;
      }
    }
    const b = bits[byte];
    if ((b === 0 && start < 0) || (b === 255 && start >= 0)) continue;
    for (let k = 0; k < 8; k++) {
      const i = 8 * byte + k;
      const set = (b >> k) & 1;
      if (set && start < 0) start = i;
      else if (!set && start >= 0) {
        varint(start - end);
        varint(i - start);
        end = i;
        start = -1;
      }
    }
  }
  if (start >= 0) {
    varint(start - end);
    varint(8 * bits.length - start);
  }
  return Uint8Array.from(out);
}

/** The bitmap of `tasks` tasks that encodeRuns wrote; runs past the stage or malformed are refused. */
export function decodeRuns(bytes: Uint8Array, tasks: number, where: string): Bitmap {
  const done = Bitmap.of(tasks);
  let at = 0,
    end = 0;
  const varint = () => {
    let x = 0;
    for (let shift = 1, k = 0; ; shift *= 0x80, k++) {
      if (at >= bytes.length || k === 5) throw new CorruptData(`${where}: the runs end inside a number, or a number is longer than 5 bytes`);
      const b = bytes[at++];
      x += (b & 0x7f) * shift;
      if (b < 0x80) return x;
    }
  };
  while (at < bytes.length) {
    const start = end + varint(),
      length = varint();
    if (length < 1 || start + length > tasks)
      throw new CorruptData(`${where}: a run of ${length} task(s) from ${start} is not inside the stage's ${tasks} tasks`);
    done.addRange(start, start + length);
    end = start + length;
  }
  return done;
}

export class ProgressStore {
  readonly store: Store;
  private planCache?: Promise<Plan>;

  constructor(readonly url: string) {
    this.store = openStore(url);
  }

  async savePlan(plan: Plan): Promise<void> {
    await this.store.put('plan.json', json(plan), { contentType: 'application/json' });
  }

  /**
   * Takes `plan` as the plan of this store: saved if the store is new, resumed if it holds the same
   * plan (returns true), refused if it holds another.
   */
  async adopt(plan: Plan): Promise<boolean> {
    if (!(await this.store.exists('plan.json'))) {
      await this.savePlan(plan);
      return false;
    }
    if (JSON.stringify(await this.plan()) !== JSON.stringify(plan)) {
      throw new InvalidInput(`${this.url} holds the progress of another plan; give another progress location (or remove it)`);
    }
    return true;
  }

  plan(): Promise<Plan> {
    if (!this.planCache) {
      this.planCache = this.store.get('plan.json', { maxBytes: MAX_JSON_BYTES }).then((bytes) => {
        if (!bytes) throw new InvalidInput(`no plan under ${this.url} (plan.json)`);
        return parsePlan(bytes, `${this.url}/plan.json`);
      });
      this.planCache.catch(() => {
        this.planCache = undefined;
      }); // a plan saved later is found then
    }
    return this.planCache;
  }

  async published(stage: number): Promise<number> {
    const bytes = await this.store.get(`published/${stage}`, { maxBytes: MAX_SMALL_JSON_BYTES });
    return bytes ? parseJson(record({ published: count }), bytes, `${this.url}/published/${stage}`).published : 0;
  }

  async setPublished(stage: number, published: number): Promise<void> {
    await this.store.put(`published/${stage}`, json({ published }), { contentType: 'application/json' });
  }

  /** Every record of a stage, read RECORD_READS at a time. */
  async records(stage: number): Promise<RecordJson[]> {
    const keys = await listAll(this.store, `records/${stage}/`);
    const limiter = new Limiter(RECORD_READS);
    const read = await Promise.all(
      keys.map((key) =>
        limiter.run(async () => {
          const bytes = await this.store.get(key, { maxBytes: MAX_JSON_BYTES });
          return bytes ? parseJson(recordSchema, bytes, `${this.url}/${key}`) : undefined;
        }),
      ),
    );
    return read.filter((r): r is RecordJson => r !== undefined);
  }

  /** The union of a stage's records: finished tasks, and the dead ones (not finished elsewhere) with an error. */
  async stageState(stage: number, tasks: number): Promise<{ done: Bitmap; dead: Map<number, string>; records: RecordJson[] }> {
    const records = await this.records(stage);
    const done = Bitmap.of(tasks);
    const dead = new Map<number, string>();
    for (const r of records) {
      done.or(recordBitmap(r, `${this.url}/records/${stage}/${r.recorder}`, tasks));
      for (const [i, error] of r.dead) dead.set(i, error);
    }
    for (const i of dead.keys()) if (done.has(i)) dead.delete(i);
    return { done, dead, records };
  }

  async stageStatus(stage: number): Promise<StageStatus> {
    const plan = await this.plan();
    const tasks = stageSize(plan.stages[stage]);
    const [{ done, dead, records }, published] = await Promise.all([this.stageState(stage, tasks), this.published(stage)]);
    const nDone = done.count();
    const status: StageStatus = {
      name: plan.stages[stage].name,
      tasks,
      published,
      done: nDone,
      dead: dead.size,
      backlog: Math.max(0, published - nDone - dead.size),
    };
    const rate = recentRate(records, Date.now()) ?? cumulativeRate(records, nDone);
    if (rate !== undefined && nDone > 0) {
      status.rate = rate;
      if (rate > 0) status.etaSeconds = (tasks - nDone - dead.size) / rate;
    }
    return status;
  }

  async status(): Promise<StageStatus[]> {
    const plan = await this.plan();
    return Promise.all(plan.stages.map((_, i) => this.stageStatus(i)));
  }

  /** A recorder for this process's finished tasks of `stage`. */
  recorder(stage: number, tasks: number, name = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`): Recorder {
    return new Recorder(this, stage, tasks, name);
  }
}

/**
 * Tasks a second over the last RECENT_WINDOW_MS: per record that flushed within it, its done count
 * now against its oldest sample in the window (or just before it); undefined when no record has.
 */
export function recentRate(records: RecordJson[], now: number): number | undefined {
  let rate: number | undefined;
  for (const r of records) {
    if (!r.recent || now - r.updated > RECENT_WINDOW_MS) continue;
    let from = r.recent[0];
    for (const sample of r.recent) if (sample[0] <= now - RECENT_WINDOW_MS) from = sample;
    if (!from || r.updated <= from[0]) continue;
    rate = (rate ?? 0) + (r.done - from[1]) / ((r.updated - from[0]) / 1000);
  }
  return rate;
}

/** Tasks a second over the whole time the stage's records span. */
function cumulativeRate(records: RecordJson[], done: number): number | undefined {
  if (records.length === 0) return undefined;
  const first = Math.min(...records.map((r) => r.first)),
    last = Math.max(...records.map((r) => r.updated));
  return last > first ? done / ((last - first) / 1000) : undefined;
}

/** The finished tasks of a record of a stage of `tasks` tasks (which the record must count). */
function recordBitmap(r: RecordJson, where: string, tasks: number): Bitmap {
  if (r.tasks !== tasks) throw new CorruptData(`${where}: counts ${r.tasks} tasks, its stage has ${tasks}`);
  if (r.runs !== undefined) return decodeRuns(Buffer.from(r.runs, 'base64'), tasks, where);
  if (r.bitmap === undefined) throw new CorruptData(`${where}: has neither "runs" nor "bitmap"`);
  try {
    return new Bitmap(new Uint8Array(gunzipSync(Buffer.from(r.bitmap, 'base64'), { maxOutputLength: Math.ceil(tasks / 8) + 1 })));
  } catch (e) {
    throw new CorruptData(`${where}: the bitmap does not decode (${(e as Error).message})`, { cause: e });
  }
}

/** A record file of a stage of `tasks` tasks, parsed and its bitmap decoded, as status reads it. */
export function decodeRecord(bytes: Uint8Array, where: string, tasks: number): { record: RecordJson; done: Bitmap } {
  const record = parseJson(recordSchema, bytes, where);
  return { record, done: recordBitmap(record, where, tasks) };
}

/**
 * One process's record of one stage: finished and dead tasks are added in memory, and `flush()`
 * writes the record (one object, rewritten whole); callers acknowledge a task only after a flush
 * that included it has completed. Flushes do not overlap: a flush asked for while one is writing
 * runs after it, with everything added meanwhile.
 */
export class Recorder {
  readonly done: Bitmap;
  private readonly dead = new Map<number, string>();
  private readonly first = Date.now();
  /** [time, done] samples for the recent rate: the last RECENT_WINDOW_MS and one before it. */
  private readonly recent: [number, number][] = [];
  private pending?: Promise<void>;
  private queued?: Promise<void>;

  constructor(
    private readonly progress: ProgressStore,
    readonly stage: number,
    readonly tasks: number,
    readonly name: string,
  ) {
    this.done = Bitmap.of(tasks);
  }

  finished(index: number): void {
    this.done.add(index);
    this.dead.delete(index);
  }

  failed(index: number, error: string): void {
    if (!this.done.has(index)) this.dead.set(index, error.slice(0, 2000));
  }

  /** Resolves once a write that includes everything added so far has completed. */
  flush(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.pending) {
      this.pending = this.write().finally(() => {
        this.pending = undefined;
      });
      return this.pending;
    }
    this.queued = this.pending
      .catch(() => {})
      .then(() => {
        this.queued = undefined;
        return this.flush();
      });
    return this.queued;
  }

  private async write(): Promise<void> {
    const now = Date.now(),
      done = this.done.count();
    const last = this.recent.at(-1);
    if (!last || now - last[0] >= RECENT_SAMPLE_MS) this.recent.push([now, done]);
    while (this.recent.length > 2 && this.recent[1][0] <= now - RECENT_WINDOW_MS) this.recent.shift();
    const r: RecordJson = {
      recorder: this.name,
      stage: this.stage,
      tasks: this.tasks,
      first: this.first,
      updated: now,
      done,
      runs: Buffer.from(encodeRuns(this.done)).toString('base64'),
      dead: [...this.dead],
      recent: [...this.recent],
    };
    await this.progress.store.put(`records/${this.stage}/${this.name}`, json(r), { contentType: 'application/json' });
  }
}
