// Planners: the task list for a layer, as stages that must run in order (a stage reads what earlier ones wrote).
import { InvalidInput } from '../common/errors.js';
import { box, Box, chunkKey, equals, formatBox, intersect, isBoxKey, isEmpty, parseChunkKey, shapeOf, Vec3 } from '../precomputed/box.js';
import { ShardedScale } from '../precomputed/sharded-scale.js';
import { ShardTask } from './shard.js';
import { checkSameGeometry, Source } from './sources.js';
import { allChunks, chunkSize, gridShape, Info, scaleBounds } from '../precomputed/info.js';
import { BYTES_PER_VOXEL } from '../precomputed/dtype.js';
import { chooseSharding, ShardingChoice } from '../precomputed/sharding.js';
import { TransferTask } from './transfer.js';
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
  if (info.scales[0].sharding) return planShardedIngest(info, builds, opts);
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

/**
 * A sharded mip 0 is written shard by shard, each Shard task reading the build chunks its region
 * touches; so the build chunks must lie on one regular grid from the volume's origin (the task works
 * out their names from build_size).
 */
function planShardedIngest(info: Info, builds: { path: string; box: Box }[], opts: { layerPath: string; buildPath: string; encoding: IngestTask['chunk_encoding']; axes?: 'xyz' | 'zyx' }): Plan {
  const buildSize = regularBuildGrid(builds.map((b) => b.box), scaleBounds(info.scales[0]));
  if (!buildSize) {
    throw new InvalidInput(`plan ingest: a sharded layer is ingested shard by shard, which needs the build chunks under ${opts.buildPath} to tile mip 0 on one regular grid from its voxel_offset (the last ones clipped at the bound); they do not`);
  }
  const source = { build: opts.buildPath, build_size: buildSize, encoding: opts.encoding, ...(opts.axes ? { axes: opts.axes } : {}) };
  return { layer_path: opts.layerPath, stages: [shardStage(info, opts.layerPath, 0, source), ...downsampleStages(info, opts.layerPath, 1)] };
}

/** The build size, when `boxes` are exactly the cells of a regular grid over `bounds` (clipped at its end). */
export function regularBuildGrid(boxes: Box[], bounds: Box): Vec3 | null {
  const first = boxes.find((b) => b.start.every((s, i) => s === bounds.start[i]));
  if (!first) return null;
  const size = shapeOf(first);
  const grid = size.map((s, i) => Math.ceil((bounds.stop[i] - bounds.start[i]) / s));
  if (boxes.length !== grid[0] * grid[1] * grid[2]) return null;
  const seen = new Set<string>();
  for (const b of boxes) {
    const g = b.start.map((s, i) => (s - bounds.start[i]) / size[i]);
    if (!g.every((v, i) => Number.isInteger(v) && v >= 0 && v < grid[i])) return null;
    const cell = intersect(box(b.start, b.start.map((s, i) => s + size[i]) as Vec3), bounds);
    if (!equals(cell, b) || seen.has(chunkKey(b))) return null;
    seen.add(chunkKey(b));
  }
  return size;
}

/** One Shard task per shard of `mip`, filled from `source`. */
export function shardStage(info: Info, layerPath: string, mip: number, source: Source): ShardTask[] {
  const scale = info.scales[mip];
  const sharded = new ShardedScale(openStore(layerPath), scale.key, scale.sharding!, gridShape(scale));
  return sharded.shards().map((shard) => ({ kind: 'shard', layer_path: layerPath, mip, shard, source }));
}

/**
 * Downsample every chunk of mips fromMip+1 .. top (those not already in `written`); a sharded mip
 * shard by shard.
 */
export function downsampleStages(info: Info, layerPath: string, firstMip: number, written?: Set<string>[]): Task[][] {
  const stages: Task[][] = [];
  for (let mip = Math.max(1, firstMip); mip < info.scales.length; mip++) {
    const key = info.scales[mip].key;
    assertPlannable(gridCount(info.scales[mip]), `plan downsample: mip ${mip}`, 'start higher with --from-mip, or use larger chunks');
    if (info.scales[mip].sharding) {
      stages.push(shardStage(info, layerPath, mip, 'downsample'));
      continue;
    }
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
  if (segmentation.scale(0).sharding) {
    throw new InvalidInput(`plan watershed: ${opts.segmentationPath} is sharded; watershed tasks write chunk by chunk, so write it unsharded and then copy it (digest plan transfer --sharded)`);
  }
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

export interface TransferOptions {
  from: string;
  to: string;
  /** A new destination's storage: sharded (with these choices) or not; default: as the source. */
  sharding?: ShardingChoice | 'unsharded';
  /** Uncompressed bytes a Transfer task reads at most (unsharded destination). */
  taskBytes?: number;
}

/**
 * Copy every scale of a layer into another, sharded or not: the destination (made from the source's
 * info when it has none) is written shard by shard where sharded, else in blocks of whole chunks. All
 * scales in one stage: each reads only the source.
 */
export async function planTransfer(opts: TransferOptions): Promise<Plan> {
  const src = await Volume.open(opts.from);
  const dst = await openOrCreateCopy(src, opts);
  checkSameGeometry(src, dst, 'plan transfer');
  const source = { layer: opts.from };
  const tasks: Task[] = [];
  dst.info.scales.forEach((scale, mip) => {
    assertPlannable(gridCount(scale), `plan transfer: mip ${mip}`, 'use larger chunks');
    if (scale.sharding) tasks.push(...shardStage(dst.info, opts.to, mip, source));
    else tasks.push(...chunkBlocks(dst, mip, opts.taskBytes ?? 256 << 20).map((b): TransferTask => ({ kind: 'transfer', layer_path: opts.to, source_path: opts.from, mip, chunk_position: chunkKey(b) })));
  });
  return { layer_path: opts.to, stages: [tasks] };
}

async function openOrCreateCopy(src: Volume, opts: TransferOptions): Promise<Volume> {
  if (await openStore(opts.to).exists('info')) {
    if (opts.sharding) throw new InvalidInput(`plan transfer: ${opts.to} exists already; its info says how it is stored (--sharded and --unsharded only shape a new one)`);
    return Volume.open(opts.to);
  }
  const info = structuredClone(src.info);
  delete info.mesh; // volumes are copied, not meshes: the copy has none until they are made for it
  const chunk = chunkSize(info.scales[0]);
  const chunkBytes = chunk[0] * chunk[1] * chunk[2] * info.num_channels * BYTES_PER_VOXEL[info.data_type];
  for (const scale of info.scales) {
    if (opts.sharding === 'unsharded') delete scale.sharding;
    else if (opts.sharding) scale.sharding = chooseSharding(gridShape(scale), chunkBytes, opts.sharding);
  }
  return Volume.create(opts.to, info);
}

/** The scale's chunks grouped into blocks (whole chunks, x fastest) of at most `bytes` uncompressed. */
function chunkBlocks(volume: Volume, mip: number, bytes: number): Box[] {
  const scale = volume.scale(mip);
  const c = chunkSize(scale);
  const voxelBytes = volume.info.num_channels * BYTES_PER_VOXEL[volume.info.data_type];
  const block: Vec3 = [8, 8, 8];
  for (let axis = 2; block[0] * block[1] * block[2] * c[0] * c[1] * c[2] * voxelBytes > bytes && block.some((b) => b > 1); axis = (axis + 2) % 3) {
    if (block[axis] > 1) block[axis] /= 2;
  }
  const bounds = scaleBounds(scale);
  const grid = gridShape(scale);
  const out: Box[] = [];
  for (let z = 0; z < grid[2]; z += block[2]) for (let y = 0; y < grid[1]; y += block[1]) for (let x = 0; x < grid[0]; x += block[0]) {
    const start = [x, y, z].map((g, i) => scale.voxel_offset[i] + g * c[i]) as Vec3;
    out.push(intersect(box(start, start.map((s, i) => s + block[i] * c[i]) as Vec3), bounds));
  }
  return out;
}
