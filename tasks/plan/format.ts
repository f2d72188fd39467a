// Plans as descriptions: a plan is stages that run in order, and a stage is a few task sets, each
// either a short explicit list or a generator that makes task i from a template on demand (a range
// of numbers, or the cells of a box grid). A 10^8-task stage is a few hundred bytes of JSON, and
// task i is computed in O(1): nothing holds the task list.
import * as v from 'valibot';
import { InvalidInput } from '../../common/errors.js';
import { count, parseJson, record, text, vec3Integer, vec3Positive } from '../../common/schema.js';
import { box, Box, chunkKey, intersect, Vec3 } from '../../common/box.js';
import { checkTask, Task, taskSchema } from '../registry.js';

const templateSchema = v.pipe(
  v.record(v.string(), v.unknown(), 'must be a task template object'),
  v.check((t) => typeof t.kind === 'string', 'must name its kind'),
);

/** Explicit tasks. */
const listSchema = record({ list: v.array(taskSchema, 'must be an array of tasks') });

/** Task i = template with `field` = i, for i in [0, count). */
const rangeSchema = record({ template: templateSchema, field: text, count });

/**
 * Task i = template with `field` = `format` with {box} replaced by the box of grid cell i (x fastest):
 * [origin + g * step, origin + (g + 1) * step) clipped to `clip`; and, with `grown_field`, that field
 * = the box grown by `grow` voxels on every side, clipped too (a watershed's context).
 */
const boxesSchema = record({
  template: templateSchema,
  field: text,
  format: v.pipe(text, v.includes('{box}', 'must contain {box}')),
  origin: vec3Integer,
  step: vec3Positive,
  shape: vec3Positive,
  clip: record({ start: vec3Integer, stop: vec3Integer }),
  grown_field: v.optional(text),
  grow: v.optional(count),
});

/** The set's kind follows from its keys, so errors point inside the set rather than at it. */
const taskSetSchema = v.lazy((input: unknown) => {
  const keys = typeof input === 'object' && input !== null ? Object.keys(input) : [];
  return keys.includes('list') ? listSchema : keys.includes('count') ? rangeSchema : boxesSchema;
});
export type TaskSet = v.InferOutput<typeof taskSetSchema>;

const stageSchema = record({ name: text, sets: v.array(taskSetSchema, 'must be an array of task sets') });
export type Stage = v.InferOutput<typeof stageSchema>;

export const planSchema = record({ version: v.literal(2, 'must be 2'), layer_path: text, stages: v.array(stageSchema, 'must be an array of stages') });
export interface Plan {
  version: 2;
  layer_path: string;
  stages: Stage[];
}

/**
 * The most tasks one stage may hold: 2^30, a 128 MiB progress bitmap (the 100 TB ingest is under
 * 10^6). More is a plan nobody could track, so it is refused before anything is allocated for it.
 */
export const MAX_STAGE_TASKS = 2 ** 30;

/** A plan file's text, checked (set templates too: a template's first task must be a valid task). */
export function parsePlan(input: string | Uint8Array, file: string): Plan {
  const plan = parseJson(planSchema, input, file) as Plan;
  plan.stages.forEach((stage, s) => {
    const size = stageSize(stage);
    if (!(size <= MAX_STAGE_TASKS))
      throw new InvalidInput(`${file}: stages[${s}] has ${size} tasks, more than the ${MAX_STAGE_TASKS} a stage may hold (split it)`);
  });
  plan.stages.forEach((stage, s) =>
    stage.sets.forEach((set, k) => {
      if ('list' in set || setSize(set) === 0) return;
      try {
        taskOfSet(set, 0);
      } catch (e) {
        throw new InvalidInput(`${file}: stages[${s}].sets[${k}]: task 0 would be invalid: ${(e as Error).message}`, { cause: e });
      }
    }),
  );
  return plan;
}

export function setSize(set: TaskSet): number {
  if ('list' in set) return set.list.length;
  if ('count' in set) return set.count;
  return set.shape[0] * set.shape[1] * set.shape[2];
}

export function stageSize(stage: Stage): number {
  return stage.sets.reduce((n, s) => n + setSize(s), 0);
}

export function planSize(plan: Plan): number {
  return plan.stages.reduce((n, s) => n + stageSize(s), 0);
}

/** The box of cell i of a boxes set. */
export function boxOfCell(set: Extract<TaskSet, { format: string }>, i: number): Box {
  const [nx, ny] = set.shape;
  const g = [i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))];
  const start = g.map((c, d) => set.origin[d] + c * set.step[d]) as Vec3;
  return intersect(box(start, start.map((s, d) => s + set.step[d]) as Vec3), { start: set.clip.start, stop: set.clip.stop });
}

function taskOfSet(set: TaskSet, i: number): Task {
  if ('list' in set) return set.list[i];
  if ('count' in set) return checkTask({ ...set.template, [set.field]: i });
  const cell = boxOfCell(set, i);
  const fields: Record<string, string> = { [set.field]: set.format.replace('{box}', chunkKey(cell)) };
  if (set.grown_field) {
    const g = set.grow ?? 0;
    fields[set.grown_field] = chunkKey(
      intersect(box(cell.start.map((s) => s - g) as Vec3, cell.stop.map((s) => s + g) as Vec3), { start: set.clip.start, stop: set.clip.stop }),
    );
  }
  return checkTask({ ...set.template, ...fields });
}

/** Task `index` of a stage (index over its sets in order). */
export function taskAt(stage: Stage, index: number): Task {
  let i = index;
  for (const set of stage.sets) {
    const n = setSize(set);
    if (i < n) return taskOfSet(set, i);
    i -= n;
  }
  throw new InvalidInput(`stage ${stage.name} has ${stageSize(stage)} tasks; there is no task ${index}`);
}

/** A stage's tasks from `from` on, with their indices, made one at a time. */
export function* stageTasks(stage: Stage, from = 0): Generator<{ index: number; task: Task }> {
  let base = 0;
  for (const set of stage.sets) {
    const n = setSize(set);
    for (let i = Math.max(0, from - base); i < n; i++) yield { index: base + i, task: taskOfSet(set, i) };
    base += n;
  }
}

/** A plan of explicit task lists (small plans, tests). */
export function listPlan(layerPath: string, stages: { name: string; tasks: Task[] }[]): Plan {
  return { version: 2, layer_path: layerPath, stages: stages.map((s) => ({ name: s.name, sets: s.tasks.length ? [{ list: s.tasks }] : [] })) };
}

/** One stage of several sets (the demo runs layers side by side). */
export function mergeStages(name: string, stages: (Stage | undefined)[]): Stage {
  return { name, sets: stages.flatMap((s) => s?.sets ?? []) };
}

export const gridCells = (shape: Vec3) => shape[0] * shape[1] * shape[2];
