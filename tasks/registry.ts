// Every task kind, and the functions that look a task's kind up. Adding a kind: write its module
// (see tasks/kind.ts) and add it to TASK_KINDS.
import * as v from 'valibot';
import { InvalidInput } from '../common/errors.js';
import { formatIssue } from '../common/schema.js';
import { agglomerateBlockTask, agglomerateMappingTask, agglomerateNamesTask, remapTask } from './agglomerate.js';
import { downsample } from './downsample.js';
import { ingest } from './ingest.js';
import { plainContext, TaskContext } from './context.js';
import { OpenVolume, StoredObject, TaskResult } from './kind.js';
import { meanGraphTask } from './mean-graph.js';
import { mesh, meshManifest } from './mesh.js';
import { meshForge, meshGather, meshMerge, segmentProperties } from './multires-mesh.js';
import { shard } from './shard.js';
import { skeletonGather, skeletonizeTask, skeletonMerge } from './skeleton.js';
import { transfer } from './transfer.js';
import { watershedTask } from './watershed.js';

export const TASK_KINDS = [
  ingest,
  downsample,
  mesh,
  meshManifest,
  meshForge,
  meshGather,
  meshMerge,
  segmentProperties,
  watershedTask,
  meanGraphTask,
  agglomerateBlockTask,
  agglomerateNamesTask,
  agglomerateMappingTask,
  remapTask,
  shard,
  transfer,
  skeletonizeTask,
  skeletonGather,
  skeletonMerge,
] as const;

type Kind = (typeof TASK_KINDS)[number];
export type Task = v.InferOutput<Kind['schema']>;
export type TaskKindName = Task['kind'];

const byKind = new Map<string, Kind>(TASK_KINDS.map((k) => [k.kind, k]));
const KIND_NAMES = TASK_KINDS.map((k) => k.kind);

export const taskSchema = v.variant(
  'kind',
  TASK_KINDS.map((k) => k.schema) as unknown as [Kind['schema'], ...Kind['schema'][]],
  `must be one of ${KIND_NAMES.join(', ')}`,
);

function kindOf(task: Task): Kind {
  return byKind.get(task.kind)!;
}

/** "Ingest task" for a task object of a known kind, else "task". */
export function taskLabel(raw: unknown): string {
  const kind = typeof raw === 'object' && raw !== null ? byKind.get((raw as { kind?: string }).kind ?? '') : undefined;
  return kind?.label ?? 'task';
}

/** Checks a task object; errors start with the kind's label (or `where`) and name the field. */
export function checkTask(raw: unknown, where?: string): Task {
  const result = v.safeParse(taskSchema, raw, { abortEarly: true });
  if (result.success) return result.output;
  throw new InvalidInput(`${where ?? taskLabel(raw)}: ${formatIssue(result.issues[0])}`);
}

/** Parses task JSON (text or object) and checks it. */
export function parseTask(input: unknown): Task {
  if (typeof input !== 'string') return checkTask(input);
  let raw: unknown;
  try {
    raw = JSON.parse(input);
  } catch (e) {
    throw new InvalidInput(`task: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  return checkTask(raw);
}

/** A stable identity for a task, for queues, progress markers and logs. */
export function taskId(task: Task): string {
  return (kindOf(task).id as (t: Task) => string)(task);
}

/** The objects the task will read, for prefetching; [] when it reads nothing large. */
export function taskInputs(task: Task, open: OpenVolume): Promise<StoredObject[]> {
  const inputs = kindOf(task).inputs as ((t: Task, o: OpenVolume) => Promise<StoredObject[]>) | undefined;
  return inputs ? inputs(task, open) : Promise.resolve([]);
}

/** Runs a checked task (parseTask or checkTask made it) in this thread, with `ctx`. */
export function runChecked(task: Task, ctx: TaskContext): Promise<TaskResult> {
  return (kindOf(task).run as (t: Task, c: TaskContext) => Promise<TaskResult>)(task, ctx);
}

/** Parses and runs one task of any kind in this thread (`digest task`, tests): a context of its own. */
export async function runTask(input: unknown, ctx: TaskContext = plainContext()): Promise<TaskResult> {
  return runChecked(parseTask(input), ctx);
}
