// Planners: the task list for a layer, as stages that must run in order (a stage reads what earlier ones wrote).
import { InvalidInput } from '../common/errors.js';
import { box, Box, chunkKey, formatBox, intersect, isBoxKey, isEmpty, parseChunkKey, Vec3 } from '../precomputed/box.js';
import { allChunks, gridShape, Info, scaleBounds } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { openStore } from '../storage/open.js';
import { joinUrl, listAll } from '../storage/store.js';
import { pyramidFrom } from './pyramid.js';
import { LEGACY_MESH_INFO } from '../mesh/fragment.js';
import { meshDirectory } from './mesh.js';
import { openAffinityLayers } from './affinity-layers.js';
import * as v from 'valibot';
import { parseJson, record, text } from '../common/schema.js';
import { DownsampleTask } from './downsample.js';
import { IngestTask } from './ingest.js';
import { MeanGraphReduceTask, MeanGraphTask } from './mean-graph.js';
import { MeshManifestTask, MeshTask } from './mesh.js';
import { checkTask, Task, taskSchema } from './registry.js';
import { WatershedParamsJson } from './watershed.js';

export interface Plan {
  layer_path: string;
  stages: Task[][];
}

export const planSchema = record({ layer_path: text, stages: v.array(v.array(taskSchema, 'must be an array of tasks'), 'must be an array of stages') });

/** A plan file's text, checked; errors name the file and the task's path (`stages[3][7].chunk_path`). */
export function parsePlan(textOrBytes: string | Uint8Array, file: string): Plan {
  return parseJson(planSchema, textOrBytes, file) as Plan;
}

/**
 * Plans are lists held in memory; a stage beyond this many tasks is refused before it is built, with
 * what to do instead.
 */
export const MAX_STAGE_TASKS = 5_000_000;

function assertPlannable(tasks: number, what: string, remedy: string): void {
  if (tasks > MAX_STAGE_TASKS) {
    throw new InvalidInput(`${what}: ${tasks.toExponential(2)} tasks would not fit in memory (at most ${MAX_STAGE_TASKS.toLocaleString('en')} per stage); ${remedy}`);
  }
}

const gridCount = (scale: Info['scales'][number]) => gridShape(scale).reduce((a, b) => a * b, 1);

/** Build chunks under `buildUrl`: files `<box>.npz` / `<box>.raw`, or directories `<box>/` of PNG slices. */
export async function listBuildChunks(buildUrl: string, encoding: IngestTask['chunk_encoding']): Promise<{ path: string; box: Box }[]> {
  const keys = await listAll(openStore(buildUrl));
  const names = new Set<string>();
  for (const key of keys) {
    if (encoding === 'png') {
      const dir = key.split('/')[0];
      if (key.includes('/') && isBoxKey(dir)) names.add(dir);
    } else if (!key.includes('/') && key.endsWith(`.${encoding}`)) names.add(key);
  }
  const suffix = encoding === 'png' ? '' : `.${encoding}`;
  return [...names].sort().map((name) => ({ path: joinUrl(buildUrl, name), box: parseChunkKey(name.slice(0, name.length - suffix.length), `build chunk ${joinUrl(buildUrl, name)}`) }));
}

export async function planIngest(opts: { layerPath: string; buildPath: string; encoding: IngestTask['chunk_encoding']; axes?: 'xyz' | 'zyx' }): Promise<Plan> {
  const { info } = await Volume.open(opts.layerPath);
  for (const scale of info.scales) assertPlannable(gridCount(scale), `plan ingest: scale ${scale.key}`, 'use larger chunks');
  const builds = await listBuildChunks(opts.buildPath, opts.encoding);
  if (builds.length === 0) throw new InvalidInput(`no .${opts.encoding} build chunks found under ${opts.buildPath}`);
  for (let i = 0; i < builds.length; i++) for (let j = i + 1; j < builds.length; j++) {
    if (!isEmpty(intersect(builds[i].box, builds[j].box))) {
      throw new InvalidInput(`build chunks overlap: ${chunkKey(builds[i].box)} and ${chunkKey(builds[j].box)} would write the same chunks`);
    }
  }
  const ingest: IngestTask[] = builds.map((b) => ({
    kind: 'ingest', chunk_path: b.path, chunk_encoding: opts.encoding, layer_path: opts.layerPath, ...(opts.axes ? { axes: opts.axes } : {}),
  }));
  // What the ingest stage writes at each mip; everything else is left to downsample stages.
  const written = info.scales.map(() => new Set<string>());
  for (const b of builds) for (const level of pyramidFrom(info, b.box)) for (const c of level.chunks) written[level.mip].add(chunkKey(c));
  const uncovered = allChunks(info.scales[0]).filter((c) => !written[0].has(chunkKey(c)));
  if (uncovered.length > 0) {
    throw new InvalidInput(`build chunks under ${opts.buildPath} do not cover ${uncovered.length} mip-0 chunk(s), e.g. ${chunkKey(uncovered[0])} (bounds ${formatBox(scaleBounds(info.scales[0]))})`);
  }
  return { layer_path: opts.layerPath, stages: [ingest, ...downsampleStages(info, opts.layerPath, 1, written)] };
}

/** Downsample every chunk of mips fromMip+1 .. top (those not already in `written`). */
export function downsampleStages(info: Info, layerPath: string, firstMip: number, written?: Set<string>[]): DownsampleTask[][] {
  const stages: DownsampleTask[][] = [];
  for (let mip = Math.max(1, firstMip); mip < info.scales.length; mip++) {
    const key = info.scales[mip].key;
    assertPlannable(gridCount(info.scales[mip]), `plan downsample: mip ${mip}`, 'start higher with --from-mip, or use larger chunks');
    const tasks = allChunks(info.scales[mip])
      .filter((c) => !written?.[mip].has(chunkKey(c)))
      .map((c): DownsampleTask => ({ kind: 'downsample', chunk_path: `${key}/${chunkKey(c)}`, layer_path: layerPath }));
    if (tasks.length > 0) stages.push(tasks);
  }
  return stages;
}

export async function planDownsample(opts: { layerPath: string; fromMip?: number }): Promise<Plan> {
  const { info } = await Volume.open(opts.layerPath);
  return { layer_path: opts.layerPath, stages: downsampleStages(info, opts.layerPath, (opts.fromMip ?? 0) + 1) };
}

export function planSize(plan: Plan): number {
  return plan.stages.reduce((n, s) => n + s.length, 0);
}

/**
 * Mesh every chunk of one scale, then write the manifests (one task per leading digit of the ids).
 * Gives the layer a mesh directory first when it has none: info "mesh" and mesh/info.
 */
export async function planMesh(opts: { layerPath: string; mip?: number; lod?: number; simplification?: number; segments?: (number | string)[] }): Promise<Plan> {
  const volume = await Volume.open(opts.layerPath);
  if (volume.info.type !== 'segmentation') throw new InvalidInput(`plan mesh: layer ${opts.layerPath} is of type ${volume.info.type}, meshes need a segmentation`);
  if (!volume.info.mesh) {
    volume.info.mesh = 'mesh';
    await volume.saveInfo();
  }
  const dir = meshDirectory(volume, 'plan mesh');
  if (!(await volume.store.exists(`${dir}/info`))) {
    await volume.store.put(`${dir}/info`, new TextEncoder().encode(JSON.stringify(LEGACY_MESH_INFO)), { contentType: 'application/json' });
  }
  const scale = volume.scale(opts.mip ?? 0);
  assertPlannable(gridCount(scale), `plan mesh: scale ${scale.key}`, 'mesh a higher mip with --mip');
  const lod = opts.lod ?? 0;
  const options = {
    ...(opts.lod ? { lod } : {}),
    ...(opts.simplification ? { simplification: opts.simplification } : {}),
    ...(opts.segments?.length ? { segments: opts.segments } : {}),
  };
  const mesh: MeshTask[] = allChunks(scale).map((c) => ({ kind: 'mesh', chunk_key: scale.key, chunk_position: chunkKey(c), layer_path: opts.layerPath, ...options }));
  const manifests: MeshManifestTask[] = '123456789'.split('').map((prefix) => ({ kind: 'mesh_manifest', layer_path: opts.layerPath, ...(opts.lod ? { lod } : {}), prefix }));
  return { layer_path: opts.layerPath, stages: [mesh.map((t) => checkTask(t)), manifests] };
}

/** One Watershed task per segmentation chunk: the chunk grown by `overlap` voxels (within the bounds), cropped back to the chunk. */
export async function planWatershed(opts: { affinitiesPath: string; segmentationPath: string; params: WatershedParamsJson; overlap?: number }): Promise<Plan> {
  const { affinities, segmentation } = await openAffinityLayers({ layer_path_affinities: opts.affinitiesPath, layer_path_segmentation: opts.segmentationPath }, 'plan watershed');
  const overlap = opts.overlap ?? 0;
  const bounds = affinities.bounds(0);
  assertPlannable(gridCount(segmentation.scale(0)), 'plan watershed', 'use larger segmentation chunks');
  const tasks = allChunks(segmentation.scale(0)).map((c) => checkTask({
    kind: 'watershed',
    chunk_position: chunkKey(intersect(box(c.start.map((v) => v - overlap) as Vec3, c.stop.map((v) => v + overlap) as Vec3), bounds)),
    crop_position: chunkKey(c),
    layer_path_affinities: opts.affinitiesPath,
    layer_path_segmentation: opts.segmentationPath,
    ...opts.params,
  }));
  return { layer_path: opts.segmentationPath, stages: [tasks] };
}

/** One MeanGraph task per segmentation chunk, then the reducer. */
export async function planMeanGraph(opts: { affinitiesPath: string; segmentationPath: string }): Promise<Plan> {
  const { segmentation } = await openAffinityLayers({ layer_path_affinities: opts.affinitiesPath, layer_path_segmentation: opts.segmentationPath }, 'plan mean-graph');
  assertPlannable(gridCount(segmentation.scale(0)), 'plan mean-graph', 'use larger segmentation chunks');
  const graph: MeanGraphTask[] = allChunks(segmentation.scale(0)).map((c) => ({
    kind: 'mean_graph', chunk_position: chunkKey(c), layer_path_affinities: opts.affinitiesPath, layer_path_segmentation: opts.segmentationPath,
  }));
  const reduce: MeanGraphReduceTask = { kind: 'mean_graph_reduce', layer_path_segmentation: opts.segmentationPath };
  return { layer_path: opts.segmentationPath, stages: [graph, [reduce]] };
}
