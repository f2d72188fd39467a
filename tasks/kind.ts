// What a task kind is: one module per kind exports one of these, and tasks/registry.ts lists them.
// The planner, the queues, the worker and the CLI look kinds up there; nothing else switches on `kind`.
import * as v from 'valibot';
import { fieldsMessage } from '../common/schema.js';
import type { Volume } from '../precomputed/volume.js';
import type { TaskContext } from './context.js';

export interface TaskResult {
  kind: string;
  /** Voxels read, for throughput figures. */
  voxels: number;
  chunksWritten: number;
  /** Mesh tasks: fragment files and the triangles in them; manifest tasks: manifests written. */
  files?: number;
  triangles?: number;
  /** Where the kernels ran, when the task ran in a pool worker. */
  backend?: 'cpu' | 'gpu';
}

/** A stored object a task will read, so the engine can fetch it while the pool is busy. */
export interface StoredObject {
  storeUrl: string;
  key: string;
  /** Larger objects are not prefetched (the task then reads them and reports them as corrupt). */
  maxBytes?: number;
}

/** Opens a layer, cached by the caller (the prefetcher reads each layer's info once). */
export type OpenVolume = (url: string) => Promise<Volume>;

export interface TaskKind<K extends string = string, T extends { kind: K } = { kind: K }> {
  readonly kind: K;
  /** "Ingest task", for errors. */
  readonly label: string;
  /** The task's JSON, `kind` included; types come from it. */
  readonly schema: v.GenericSchema<unknown, T>;
  /** A stable identity, for queues, progress markers and logs. */
  id(task: T): string;
  /** The large objects it reads, for prefetching (errors here are not the task's: it reports them). */
  inputs?(task: T, open: OpenVolume): Promise<StoredObject[]>;
  /** Runs the task; everything it needs beyond its JSON comes from `ctx`. */
  run(task: T, ctx: TaskContext): Promise<TaskResult>;
}

/** The task type of a kind with these fields (`kind` included). */
export type TaskOf<K extends string, E extends v.ObjectEntries> = v.InferOutput<v.StrictObjectSchema<{ kind: v.LiteralSchema<K, undefined> } & E, string>>;

/** Declares a kind; its schema gets the `kind` literal, so a kind module writes only its own fields. */
export function defineTask<const K extends string, const E extends v.ObjectEntries>(
  kind: K,
  label: string,
  fields: E,
  does: {
    id(task: TaskOf<K, E>): string;
    inputs?(task: TaskOf<K, E>, open: OpenVolume): Promise<StoredObject[]>;
    run(task: TaskOf<K, E>, ctx: TaskContext): Promise<TaskResult>;
    /** What the fields must say together (one of two forms, say): the field at fault and why, or nothing. */
    check?(task: TaskOf<K, E>): { field: string; message: string } | undefined;
  },
) {
  const entries = { kind: v.literal(kind), ...fields } as { kind: v.LiteralSchema<K, undefined> } & E;
  const object = v.strictObject(entries, fieldsMessage(Object.keys(fields)));
  const check = does.check;
  const schema = check
    ? v.pipe(
        object,
        v.rawCheck(({ dataset, addIssue }) => {
          if (!dataset.typed) return;
          const task = dataset.value as TaskOf<K, E>;
          const problem = check(task);
          const value = (task as Record<string, unknown>)[problem?.field ?? ''];
          if (problem)
            addIssue({ message: problem.message, input: value, path: [{ type: 'object', origin: 'value', input: task, key: problem.field, value }] });
        }),
      )
    : object;
  return { kind, label, schema, id: does.id, inputs: does.inputs, run: does.run };
}
