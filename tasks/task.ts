// Task JSON: the shapes of the task kinds and their validation at the edge (errors name the field).

export interface IngestTask {
  kind: 'ingest';
  /** URL of a build chunk named by its mip-0 box: `.../x0-x1_y0-y1_z0-z1.npz` (or `.raw`, or a directory of PNG slices). */
  chunk_path: string;
  chunk_encoding: 'npz' | 'raw' | 'png';
  layer_path: string;
  /** npz only: the array's axis order, 'xyz' (arr[x,y,z,c], default) or 'zyx' (arr[z,y,x] / arr[c,z,y,x]). */
  axes?: 'xyz' | 'zyx';
}

export interface DownsampleTask {
  kind: 'downsample';
  /** The output chunk: `<scale key>/<x0-x1_y0-y1_z0-z1>`, relative to layer_path (a full URL ending so is accepted). */
  chunk_path: string;
  layer_path: string;
}

export type Task = IngestTask | DownsampleTask;

export interface TaskResult {
  kind: Task['kind'];
  /** Voxels read, for throughput figures. */
  voxels: number;
  chunksWritten: number;
  /** Where the kernels ran, when the task ran in a pool worker. */
  backend?: 'cpu' | 'gpu';
}

const FIELDS: Record<Task['kind'], { required: string[]; optional: string[] }> = {
  ingest: { required: ['chunk_path', 'chunk_encoding', 'layer_path'], optional: ['axes'] },
  downsample: { required: ['chunk_path', 'layer_path'], optional: [] },
};

const CHOICES: Record<string, readonly string[]> = {
  chunk_encoding: ['npz', 'raw', 'png'],
  axes: ['xyz', 'zyx'],
};

/** Parses task JSON (text or object) and checks its fields; throws with the offending field named. */
export function parseTask(input: unknown): Task {
  let raw: any = input;
  if (typeof input === 'string') {
    try {
      raw = JSON.parse(input);
    } catch (e) {
      throw new Error(`task: not valid JSON (${(e as Error).message})`);
    }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('task: must be a JSON object');
  const kinds = Object.keys(FIELDS);
  if (!kinds.includes(raw.kind)) throw new Error(`task: field "kind" is ${JSON.stringify(raw.kind)}, expected one of ${kinds.join(', ')}`);
  const spec = FIELDS[raw.kind as Task['kind']];
  const label = `${raw.kind[0].toUpperCase()}${raw.kind.slice(1)} task`;
  for (const field of Object.keys(raw)) {
    if (field !== 'kind' && !spec.required.includes(field) && !spec.optional.includes(field)) {
      throw new Error(`${label}: unknown field "${field}" (allowed: ${[...spec.required, ...spec.optional].join(', ')})`);
    }
  }
  for (const field of [...spec.required, ...spec.optional]) {
    const value = raw[field];
    if (value === undefined) {
      if (spec.required.includes(field)) throw new Error(`${label}: field "${field}" is missing`);
      continue;
    }
    if (typeof value !== 'string' || value === '') throw new Error(`${label}: field "${field}" must be a non-empty string, got ${JSON.stringify(value)}`);
    const choices = CHOICES[field];
    if (choices && !choices.includes(value)) throw new Error(`${label}: field "${field}" is "${value}", expected one of ${choices.join(', ')}`);
  }
  return raw as Task;
}

/** A stable identity for a task, for queues and logs. */
export function taskId(task: Task): string {
  return `${task.kind}:${task.layer_path}:${task.chunk_path}`;
}
