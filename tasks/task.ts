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

export interface MeshTask {
  kind: 'mesh';
  /** The scale's key, e.g. "8_8_40". */
  chunk_key: string;
  /** The chunk to mesh, `x0-x1_y0-y1_z0-z1` in voxels of that scale (a grid chunk). */
  chunk_position: string;
  /** A segmentation layer whose info has a "mesh" key. */
  layer_path: string;
  /** Level of detail in the fragment names; manifests list lod 0. Default 0. */
  lod?: number;
  /** 0 (none) .. 10 (most detail removed). Default 0. */
  simplification?: number;
  /** Segment ids to mesh (numbers, or decimal strings for ids above 2^53); empty or absent: all. */
  segments?: (number | string)[];
}

export interface MeshManifestTask {
  kind: 'mesh_manifest';
  layer_path: string;
  /** The level of detail whose fragments are listed. Default 0. */
  lod?: number;
  /** Decimal digits: only segment ids starting with these (splits the work); empty or absent: all. */
  prefix?: string;
}

export interface WatershedTask {
  kind: 'watershed';
  /** The box to segment, `x0-x1_y0-y1_z0-z1` in mip-0 voxels of the affinity layer (any box inside it). */
  chunk_position: string;
  /** The box to write, inside chunk_position and made of whole segmentation chunks; default chunk_position. */
  crop_position?: string;
  /** float32, 3 channels: channel c at voxel v is the edge between v and v - e_c. */
  layer_path_affinities: string;
  /** uint64 segmentation with the affinity layer's mip-0 geometry. */
  layer_path_segmentation: string;
  high_threshold: number;
  low_threshold: number;
  merge_threshold: number;
  merge_size: number;
  dust_size: number;
}

export interface MeanGraphTask {
  kind: 'mean_graph';
  /** Whole segmentation chunks, `x0-x1_y0-y1_z0-z1` in mip-0 voxels; the edges whose upper voxel lies here. */
  chunk_position: string;
  layer_path_affinities: string;
  layer_path_segmentation: string;
}

export interface MeanGraphReduceTask {
  kind: 'mean_graph_reduce';
  layer_path_segmentation: string;
}

export type Task = IngestTask | DownsampleTask | MeshTask | MeshManifestTask | WatershedTask | MeanGraphTask | MeanGraphReduceTask;

export interface TaskResult {
  kind: Task['kind'];
  /** Voxels read, for throughput figures. */
  voxels: number;
  chunksWritten: number;
  /** Mesh tasks: fragment files and the triangles in them; manifest tasks: manifests written. */
  files?: number;
  triangles?: number;
  /** Where the kernels ran, when the task ran in a pool worker. */
  backend?: 'cpu' | 'gpu';
}

type FieldSpec =
  | { type: 'string'; choices?: readonly string[] }
  | { type: 'integer'; min: number; max: number }
  | { type: 'number'; min: number; max: number }
  | { type: 'digits' }
  | { type: 'segments' };

const TEXT: FieldSpec = { type: 'string' };
const UNIT: FieldSpec = { type: 'number', min: 0, max: 1 };
const COUNT: FieldSpec = { type: 'integer', min: 0, max: 2 ** 53 - 1 };

const FIELDS: Record<Task['kind'], { required: Record<string, FieldSpec>; optional: Record<string, FieldSpec> }> = {
  ingest: {
    required: { chunk_path: TEXT, chunk_encoding: { type: 'string', choices: ['npz', 'raw', 'png'] }, layer_path: TEXT },
    optional: { axes: { type: 'string', choices: ['xyz', 'zyx'] } },
  },
  downsample: { required: { chunk_path: TEXT, layer_path: TEXT }, optional: {} },
  mesh: {
    required: { chunk_key: TEXT, chunk_position: TEXT, layer_path: TEXT },
    optional: { lod: { type: 'integer', min: 0, max: 1000 }, simplification: { type: 'integer', min: 0, max: 10 }, segments: { type: 'segments' } },
  },
  mesh_manifest: { required: { layer_path: TEXT }, optional: { lod: { type: 'integer', min: 0, max: 1000 }, prefix: { type: 'digits' } } },
  watershed: {
    required: {
      chunk_position: TEXT, layer_path_affinities: TEXT, layer_path_segmentation: TEXT,
      high_threshold: UNIT, low_threshold: UNIT, merge_threshold: UNIT, merge_size: COUNT, dust_size: COUNT,
    },
    optional: { crop_position: TEXT },
  },
  mean_graph: { required: { chunk_position: TEXT, layer_path_affinities: TEXT, layer_path_segmentation: TEXT }, optional: {} },
  mean_graph_reduce: { required: { layer_path_segmentation: TEXT }, optional: {} },
};

const MAX_UINT64 = (1n << 64n) - 1n;

/** Why `value` does not fit `spec`, or undefined when it does. */
function fieldError(value: unknown, spec: FieldSpec): string | undefined {
  const got = JSON.stringify(value);
  switch (spec.type) {
    case 'string':
      if (typeof value !== 'string' || value === '') return `must be a non-empty string, got ${got}`;
      if (spec.choices && !spec.choices.includes(value)) return `is "${value}", expected one of ${spec.choices.join(', ')}`;
      return undefined;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < spec.min || value > spec.max) return `must be an integer ${spec.min}..${spec.max}, got ${got}`;
      return undefined;
    case 'number':
      if (typeof value !== 'number' || !(value >= spec.min && value <= spec.max)) return `must be a number in [${spec.min}, ${spec.max}], got ${got}`;
      return undefined;
    case 'digits':
      return typeof value === 'string' && /^\d*$/.test(value) ? undefined : `must be a string of decimal digits, got ${got}`;
    case 'segments': {
      if (!Array.isArray(value)) return `must be an array of segment ids, got ${got}`;
      for (const [i, id] of value.entries()) {
        const ok = (typeof id === 'number' && Number.isSafeInteger(id) && id > 0)
          || (typeof id === 'string' && /^[1-9]\d*$/.test(id) && BigInt(id) <= MAX_UINT64);
        if (!ok) return `[${i}] must be a non-zero uint64 id (a number, or a decimal string above 2^53), got ${JSON.stringify(id)}`;
      }
      return undefined;
    }
  }
}

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
  const label = `${raw.kind.split('_').map((w: string) => w[0].toUpperCase() + w.slice(1)).join('')} task`;
  const allowed = [...Object.keys(spec.required), ...Object.keys(spec.optional)];
  for (const field of Object.keys(raw)) {
    if (field !== 'kind' && !allowed.includes(field)) throw new Error(`${label}: unknown field "${field}" (allowed: ${allowed.join(', ')})`);
  }
  for (const field of allowed) {
    const value = raw[field];
    if (value === undefined) {
      if (field in spec.required) throw new Error(`${label}: field "${field}" is missing`);
      continue;
    }
    const why = fieldError(value, spec.required[field] ?? spec.optional[field]);
    if (why) throw new Error(`${label}: field "${field}" ${why}`);
  }
  return raw as Task;
}

/** A stable identity for a task, for queues and logs. */
export function taskId(task: Task): string {
  switch (task.kind) {
    case 'ingest': case 'downsample': return `${task.kind}:${task.layer_path}:${task.chunk_path}`;
    case 'mesh': return `mesh:${task.layer_path}:${task.chunk_key}/${task.chunk_position}:${task.lod ?? 0}`;
    case 'mesh_manifest': return `mesh_manifest:${task.layer_path}:${task.lod ?? 0}:${task.prefix ?? ''}`;
    case 'watershed': return `watershed:${task.layer_path_segmentation}:${task.crop_position ?? task.chunk_position}`;
    case 'mean_graph': return `mean_graph:${task.layer_path_segmentation}:${task.chunk_position}`;
    case 'mean_graph_reduce': return `mean_graph_reduce:${task.layer_path_segmentation}`;
  }
}
