// Progress of a published plan, kept in a store (file:// or gs://) that every worker can reach:
//   plan.json          the plan, as published
//   stages.json        per stage: how many tasks, and whether it has been published yet
//   done/<stage>/<id>  one per finished task (id: sha-1 of the task's identity), with its timing
//   dead/<stage>/<id>  one per task that failed its last allowed attempt, with the error
// Markers are written after the task's output, so "done" means the output is complete. They are
// kept per stage so that the publisher, waiting on one stage, lists only that stage's markers.
import { createHash } from 'node:crypto';
import * as v from 'valibot';
import { InvalidInput } from '../common/errors.js';
import { count, parseJson, record } from '../common/schema.js';
import { parsePlan, Plan } from '../tasks/plan.js';
import { Task, taskId } from '../tasks/registry.js';
import { openStore } from '../storage/open.js';
import { listAll, Store } from '../storage/store.js';

const stagesSchema = v.array(record({ tasks: count, published: v.boolean('must be true or false') }), 'must be an array of stages');

export interface StageState {
  tasks: number;
  published: boolean;
}

export interface StageStatus extends StageState {
  done: number;
  dead: number;
  /** Published and neither done nor dead. */
  backlog: number;
}

export function markerId(task: Task): string {
  return createHash('sha1').update(taskId(task)).digest('hex');
}

const json = (value: unknown) => new TextEncoder().encode(`${JSON.stringify(value)}\n`);

export class ProgressStore {
  readonly store: Store;
  /** Marker ids per stage's task list, hashed once: the publisher asks for the same stage every poll. */
  private readonly markerIds = new WeakMap<Task[], string[]>();

  constructor(readonly url: string) {
    this.store = openStore(url);
  }

  async savePlan(plan: Plan, stages: StageState[]): Promise<void> {
    await this.store.put('plan.json', json(plan), { contentType: 'application/json' });
    await this.saveStages(stages);
  }

  async saveStages(stages: StageState[]): Promise<void> {
    await this.store.put('stages.json', json(stages), { contentType: 'application/json' });
  }

  async plan(): Promise<{ plan: Plan; stages: StageState[] }> {
    const [plan, stages] = await Promise.all([this.store.get('plan.json'), this.store.get('stages.json')]);
    if (!plan || !stages) throw new InvalidInput(`no published plan under ${this.url} (plan.json, stages.json)`);
    return { plan: parsePlan(plan, `${this.url}/plan.json`), stages: parseJson(stagesSchema, stages, `${this.url}/stages.json`) };
  }

  /** `stage` is the message's stage attribute ("_" when a task was published without one). */
  markDone(task: Task, stage: string, details: Record<string, unknown>): Promise<void> {
    return this.store.put(`done/${stage}/${markerId(task)}`, json({ task, ...details }), { contentType: 'application/json' });
  }

  markDead(task: unknown, stage: string, id: string, details: Record<string, unknown>): Promise<void> {
    return this.store.put(`dead/${stage}/${id}`, json({ task, ...details }), { contentType: 'application/json' });
  }

  private async ids(kind: 'done' | 'dead', stage: number): Promise<Set<string>> {
    const prefix = `${kind}/${stage}/`;
    return new Set((await listAll(this.store, prefix)).map((k) => k.slice(prefix.length)));
  }

  /** Done, dead and backlog counts of stage `i` (0-based), listing only its markers. */
  async stageStatus(i: number, published?: { plan: Plan; stages: StageState[] }): Promise<StageStatus> {
    const { plan, stages } = published ?? await this.plan();
    const [done, dead] = await Promise.all([this.ids('done', i), this.ids('dead', i)]);
    let ids = this.markerIds.get(plan.stages[i]);
    if (!ids) this.markerIds.set(plan.stages[i], (ids = plan.stages[i].map(markerId)));
    const nDone = ids.filter((id) => done.has(id)).length;
    const nDead = ids.filter((id) => dead.has(id) && !done.has(id)).length;
    return { ...stages[i], done: nDone, dead: nDead, backlog: stages[i].published ? ids.length - nDone - nDead : 0 };
  }

  /** Done, dead and backlog counts per stage. */
  async status(): Promise<StageStatus[]> {
    const published = await this.plan();
    return Promise.all(published.plan.stages.map((_, i) => this.stageStatus(i, published)));
  }
}
