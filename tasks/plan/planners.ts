// Planners: a job as stages that run in order (a stage reads what earlier ones wrote), each stage a
// few task sets generated from templates (tasks/plan-format.ts): nothing here holds a task list
// longer than a few explicit tasks, and every check is grid arithmetic or a bitmap.
import { InvalidInput } from '../../common/errors.js';
import { LEGACY_MESH_INFO } from '../../mesh/fragment.js';
import { Box, box, chunkKey, equals, formatBox, intersect, isBoxKey, parseChunkKey, shapeOf, union, Vec3, voxelCount } from '../../common/box.js';
import { codecOf } from '../../codecs/registry.js';
import { BYTES_PER_VOXEL } from '../../common/dtype.js';
import { chunkSize, createInfo, downsampleFactor, factorBetween, gridShape, Info, Scale, scaleBounds, voxelBytes } from '../../precomputed/info.js';
import { shardWriterBytes } from '../../precomputed/chunk-store.js';
import { ShardedScale } from '../../precomputed/sharded-scale.js';
import { chooseSharding, compactShardShape, ShardingChoice } from '../../precomputed/sharding.js';
import { Volume } from '../../precomputed/volume.js';
import { openStore } from '../../storage/open.js';
import { joinUrl, splitUrl } from '../../storage/store.js';
import { BuildEncoding, buildSuffix } from '../../sources/registry.js';
import { LabSource, openLabForLayer } from '../../sources/lab/registry.js';
import { openAffinityLayers } from '../affinity-layers.js';
import { IngestTask } from '../ingest.js';
import { meshDirectory } from '../mesh.js';
import { MULTIRES_MESH_TYPE } from '../multires-mesh.js';
import { chunkBlockCount } from '../segment-objects.js';
import { skeletonInfo } from '../../skeletons/format.js';
import { multiresInfo } from '../../mesh/multires.js';
import { listPlan, Plan, Stage, TaskSet } from './format.js';
import { PROCESS_BYTES, TASK_COSTS, TaskCost, taskBlock } from './task-size.js';
import { completedRegion, downsampleSlabs, SLAB_BYTES } from '../pyramid.js';
import { shardSlabs } from '../shard.js';
import { CACHED_BUILD_CHUNKS, checkSameGeometry, Source } from '../shard-sources.js';
import { WatershedParamsJson } from '../watershed.js';
import { mappingDir, mappingInfo } from '../agglomerate.js';
import { blockSide, checkTree, rootLevel } from '../../affinities/block-tree.js';

export { listPlan, parsePlan, planSize, stageSize, stageTasks, taskAt } from './format.js';
export type { Plan, Stage } from './format.js';

/** The default memory a task may use, bytes: two threads on a 24 GB machine, with room to spare. */
export const DEFAULT_TASK_MEMORY = 2 * 2 ** 30;

/**
 * An Ingest task's peak over its build chunk's bytes, past the process: the decoded array, the
 * pyramid it makes and the encoded chunks. Measured (digest task under /usr/bin/time): 1.5 for
 * 1024x1024x128 uint64 of few labels, 2.05 for 1024x1024x128 uint8, 2.36 for 512x512x128 uint64 of a
 * different label almost every voxel (compressed_segmentation's worst case).
 */
const INGEST_PEAK_PER_BUILD_BYTE = 2.4;

/** A task holds its source region, the first level it makes, and encoding buffers: about this many times the source. */
const PEAK_PER_SOURCE_BYTE = 2.5;

/** An explicit task list longer than this is refused. */
export const MAX_LISTED_TASKS = 2_000_000;

/**
 * A generated set of more tasks than this is refused: progress keeps a bit per task of a stage in
 * each worker (2^28 tasks: 32 MiB), and a plan that large wants larger chunks or bigger tasks anyway.
 */
export const MAX_SET_TASKS = 2 ** 28;

const cells = (v: Vec3) => v[0] * v[1] * v[2];

/** A set of boxes tiling `bounds` from its start in steps of `step` (the last clipped), one task each. */
function boxesSet(
  template: Record<string, unknown>,
  field: string,
  format: string,
  bounds: Box,
  step: Vec3,
  extra: Partial<Extract<TaskSet, { format: string }>> = {},
  advice = 'more --memory, so that each task covers more chunks',
): TaskSet {
  const shape = shapeOf(bounds).map((n, i) => Math.ceil(n / step[i])) as Vec3;
  if (cells(shape) > MAX_SET_TASKS) {
    throw new InvalidInput(
      `plan: ${String(template.kind)} tasks over ${formatBox(bounds)} in steps of [${step}] would be ${cells(shape).toExponential(2)} tasks, more than ${MAX_SET_TASKS.toExponential(2)}; use ${advice}`,
    );
  }
  return { template, field, format, origin: bounds.start, step, shape, clip: bounds, ...extra };
}

/** How big a task of a sized kind is: by `memory` (default DEFAULT_TASK_MEMORY), or `taskChunks` a side. */
export interface TaskSizing {
  memory?: number;
  /** Chunks a side of each task's box (clipped to the grid), instead of as many as fit `memory`. */
  taskChunks?: number;
}

/**
 * How big tasks of a kind are over a scale: the largest cube of whole chunks that fits `memory` by the
 * kind's measured cost (task-size.ts), or `taskChunks` a side; for a kind that writes the scale
 * (`writes`), cubes of whole compact shards of a sharded one. `bytes` is one task's planned peak.
 */
function taskSize(scale: Scale, cost: TaskCost, sizing: TaskSizing, kind: string, grow: number, writes: boolean): { step: Vec3; bytes: number; unit: string } {
  const memory = sizing.memory ?? DEFAULT_TASK_MEMORY;
  const unit: Vec3 | null = writes ? unitCells(scale) : [1, 1, 1];
  if (!unit)
    throw new InvalidInput(
      `plan: ${kind} tasks write whole shards, and the shards of ${scale.key} are scattered (murmurhash): give the layer identity-hashed shards`,
    );
  const unitSize = chunkSize(scale).map((c, d) => c * unit[d]) as Vec3;
  const unitGrid = gridShape(scale).map((g, d) => Math.ceil(g / unit[d])) as Vec3;
  const { block, bytes } =
    sizing.taskChunks === undefined
      ? taskBlock(cost, unitSize, unitGrid, memory, grow)
      : { block: unitGrid.map((g, d) => Math.min(g, Math.max(1, Math.round(sizing.taskChunks! / unit[d])))) as Vec3, bytes: 0 };
  return { step: block.map((b, d) => b * unitSize[d]) as Vec3, bytes, unit: cells(unit) > 1 ? `shard [${unitSize}]` : `chunk [${unitSize}]` };
}

/** A box set of tasks sized by taskSize; refused when one chunk (or shard) alone does not fit `memory`. */
function sizedSet(
  scale: Scale,
  cost: TaskCost,
  sizing: TaskSizing,
  template: Record<string, unknown>,
  field: string,
  extra: Partial<Extract<TaskSet, { format: string }>> = {},
  writes = false,
): TaskSet {
  const grow = extra.grow ?? 0;
  const memory = sizing.memory ?? DEFAULT_TASK_MEMORY;
  const { step, bytes, unit } = taskSize(scale, cost, sizing, String(template.kind), grow, writes);
  if (bytes > memory)
    throw new InvalidInput(
      `plan: one ${String(template.kind)} task of one ${unit}${grow ? ` grown by ${grow}` : ''} needs about ${Math.ceil(bytes / 2 ** 20)} MiB, more than --memory ${Math.floor(memory / 2 ** 20)} MiB; give it more --memory or the layer smaller ${unit.startsWith('shard') ? 'shards (--shard-mib)' : 'chunks'}`,
    );
  const advice = sizing.taskChunks === undefined ? 'larger chunks (each task already fills --memory) or more --memory' : 'a larger --task-chunks';
  return boxesSet(template, field, '{box}', scaleBounds(scale), step, extra, advice);
}

// ---- build chunks

export interface BuildGrid {
  size: Vec3;
}

/** Build chunks under `buildUrl`, streamed page by page; boxes kept as numbers (6 per chunk). */
export async function listBuildBoxes(buildUrl: string, encoding: BuildEncoding): Promise<Float64Array> {
  let boxes = new Float64Array(6 * 1024);
  let n = 0;
  let last = '';
  const suffix = buildSuffix(encoding);
  for await (const page of openStore(buildUrl).listPages()) {
    for (const key of page) {
      const name = suffix === '' ? (key.includes('/') ? key.slice(0, key.indexOf('/')) : '') : key.includes('/') ? '' : key;
      if (!name.endsWith(suffix) || name === last) continue;
      const boxName = name.slice(0, name.length - suffix.length);
      if (!isBoxKey(boxName)) continue;
      last = name;
      const b = parseChunkKey(boxName);
      if (6 * (n + 1) > boxes.length) {
        const grown = new Float64Array(boxes.length * 2);
        grown.set(boxes);
        boxes = grown;
      }
      boxes.set([...b.start, ...b.stop], 6 * n++);
    }
  }
  return boxes.subarray(0, 6 * n);
}

const boxAt = (boxes: Float64Array, i: number): Box =>
  box([boxes[6 * i], boxes[6 * i + 1], boxes[6 * i + 2]], [boxes[6 * i + 3], boxes[6 * i + 4], boxes[6 * i + 5]]);

/** The build size, when `boxes` are exactly the cells of a regular grid over `bounds` (clipped at its end). */
export function regularBuildGrid(boxes: Float64Array, bounds: Box): Vec3 | null {
  const n = boxes.length / 6;
  let first: Box | undefined;
  for (let i = 0; i < n && !first; i++) {
    const b = boxAt(boxes, i);
    if (equals({ start: b.start, stop: b.start }, { start: bounds.start, stop: bounds.start })) first = b;
  }
  if (!first) return null;
  const size = shapeOf(first);
  const grid = shapeOf(bounds).map((s, i) => Math.ceil(s / size[i])) as Vec3;
  if (n !== cells(grid)) return null;
  const seen = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const b = boxAt(boxes, i);
    const g = b.start.map((s, d) => (s - bounds.start[d]) / size[d]);
    if (!g.every((v, d) => Number.isInteger(v) && v >= 0 && v < grid[d])) return null;
    const cell = g[0] + grid[0] * (g[1] + grid[1] * g[2]);
    if (seen[cell] || !equals(intersect(box(b.start, b.start.map((s, d) => s + size[d]) as Vec3), bounds), b)) return null;
    seen[cell] = 1;
  }
  return size;
}

/**
 * Irregular build chunks: each must start on mip 0's chunk grid and end on it or at the bound, and
 * together they must cover every chunk once (a bitmap over the chunk grid).
 */
function checkBuildCover(boxes: Float64Array, scale: Scale, buildUrl: string): void {
  const grid = gridShape(scale),
    c = chunkSize(scale),
    bounds = scaleBounds(scale);
  if (cells(grid) > 2 ** 31)
    throw new InvalidInput(
      `plan ingest: ${cells(grid)} chunks at mip 0 are too many to check irregular build chunks against; give the build chunks one regular grid (--build-size)`,
    );
  const owner = new Int32Array(cells(grid)).fill(-1);
  for (let i = 0; i < boxes.length / 6; i++) {
    const b = boxAt(boxes, i);
    const lo = b.start.map((s, d) => (s - bounds.start[d]) / c[d]);
    const hi = b.stop.map((s, d) => (s === bounds.stop[d] ? grid[d] : (s - bounds.start[d]) / c[d]));
    if (![...lo, ...hi].every(Number.isInteger) || !lo.every((v, d) => v >= 0 && hi[d] <= grid[d] && v < hi[d])) {
      throw new InvalidInput(
        `plan ingest: build chunk ${chunkKey(b)} under ${buildUrl} does not start and end on mip 0's chunk grid [${c}] (bounds ${formatBox(bounds)})`,
      );
    }
    for (let z = lo[2]; z < hi[2]; z++)
      for (let y = lo[1]; y < hi[1]; y++)
        for (let x = lo[0]; x < hi[0]; x++) {
          const cell = x + grid[0] * (y + grid[1] * z);
          if (owner[cell] >= 0)
            throw new InvalidInput(`build chunks overlap: ${chunkKey(boxAt(boxes, owner[cell]))} and ${chunkKey(b)} would write the same chunks`);
          owner[cell] = i;
        }
  }
  const missing = owner.indexOf(-1);
  if (missing >= 0) {
    const uncovered = owner.reduce((n, o) => n + (o < 0 ? 1 : 0), 0);
    const g = [missing % grid[0], Math.floor(missing / grid[0]) % grid[1], Math.floor(missing / (grid[0] * grid[1]))];
    const start = g.map((v, d) => bounds.start[d] + v * c[d]) as Vec3;
    const first = intersect(box(start, start.map((s, d) => s + c[d]) as Vec3), bounds);
    throw new InvalidInput(`build chunks under ${buildUrl} do not cover ${uncovered} mip-0 chunk(s), e.g. ${chunkKey(first)} (bounds ${formatBox(bounds)})`);
  }
}

// ---- ingest

export interface IngestOptions {
  layerPath: string;
  buildPath: string;
  encoding: BuildEncoding;
  axes?: 'xyz' | 'zyx';
  /** Declares the build chunks' grid instead of listing them (their names follow from it). */
  buildSize?: Vec3;
  /** Bytes one task may use. */
  memory?: number;
  /** The workers the job will run on (sharded layers: see shardIngestSet); default DEFAULT_WORKERS. */
  workers?: number;
}

export async function planIngest(opts: IngestOptions): Promise<Plan> {
  const { info } = await Volume.open(opts.layerPath);
  const scale0 = info.scales[0],
    bounds = scaleBounds(scale0);
  let buildSize = opts.buildSize;
  let listed: Float64Array | undefined;
  if (!buildSize) {
    listed = await listBuildBoxes(opts.buildPath, opts.encoding);
    if (listed.length === 0) throw new InvalidInput(`no .${opts.encoding} build chunks found under ${opts.buildPath}`);
    buildSize = regularBuildGrid(listed, bounds) ?? undefined;
  }
  if (buildSize) checkBuildGridAligned(buildSize, scale0);
  else checkBuildCover(listed!, scale0, opts.buildPath);
  if (scale0.sharding) return shardedIngestPlan(info, opts.layerPath, shardedBuildSource(opts, buildSize), opts.memory, opts.workers);
  const firstIncomplete = buildSize ? firstIncompleteMipOfGrid(info, buildSize) : firstIncompleteMipOfList(info, listed!);
  // Ingest tasks stop below the mips Downsample tasks write: a build chunk at the bounds may complete
  // a chunk of those too, which would then be written twice.
  const ingest = ingestStage(info, opts, buildSize, listed, firstIncomplete);
  return { version: 2, layer_path: opts.layerPath, stages: [ingest, ...downsampleStages(info, opts.layerPath, firstIncomplete - 1, opts.memory)] };
}

export interface SourceIngestOptions {
  layerPath: string;
  /** A lab file (TIFF, HDF5, zarr, N5) holding the layer's mip 0. */
  source: LabSource;
  /** Bytes one task may use. */
  memory?: number;
  /** The workers the job will run on (sharded layers: see shardIngestSet); default DEFAULT_WORKERS. */
  workers?: number;
}

/** A sharded layer's ingest: Shard tasks writing mip 0 and the mips they complete, then Downsample stages for the rest. */
function shardedIngestPlan(info: Info, layerPath: string, source: Source, memory: number | undefined, workers: number | undefined): Plan {
  const { set, mips } = shardIngestSet(info, layerPath, source, memory, workers);
  return { version: 2, layer_path: layerPath, stages: [{ name: 'ingest', sets: [set] }, ...downsampleStages(info, layerPath, mips - 1, memory)] };
}

/**
 * The source of a sharded layer's Shard tasks: the build chunks as one regular grid (a task reads
 * its region's build chunks, which must then be named by the grid).
 */
function shardedBuildSource(opts: IngestOptions, buildSize: Vec3 | undefined): Source {
  if (!buildSize)
    throw new InvalidInput(
      `plan ingest: a sharded layer is ingested shard by shard, which needs the build chunks under ${opts.buildPath} to tile mip 0 on one regular grid from its voxel_offset (the last ones clipped at the bound); they do not`,
    );
  return { build: opts.buildPath, build_size: buildSize, encoding: opts.encoding, ...(opts.axes ? { axes: opts.axes } : {}) };
}

/**
 * The planned peak of an Ingest task reading a region of `shape` from a lab file: as for a build
 * chunk of that shape (the readers hold their output and one page, slab or chunk besides). Measured:
 * 1,007 MiB for 1024x1024x512 uint8 from a tiled BigTIFF, 975 from HDF5 (bench/lab-ingest.ts).
 */
export function sourceIngestPeakBytes(info: Info, shape: Vec3): number {
  return PROCESS_BYTES + INGEST_PEAK_PER_BUILD_BYTE * cells(shape) * voxelBytes(info);
}

/**
 * Ingest from a lab file, region by region: tasks of as many whole chunks as fit `memory` (grown from
 * one chunk, doubling x, y and z in turn), each reading only its region of the file; a sharded layer
 * gets Shard tasks streaming their shards' regions from the file. The file is opened once here, and
 * its size, data type and channels checked against the layer.
 */
export async function planIngestSource(opts: SourceIngestOptions): Promise<Plan> {
  const { info } = await Volume.open(opts.layerPath);
  const scale0 = info.scales[0];
  (await openLabForLayer(opts.source, info, 'plan ingest')).close?.();
  const memory = opts.memory ?? DEFAULT_TASK_MEMORY;
  if (scale0.sharding) return shardedIngestPlan(info, opts.layerPath, opts.source, memory, opts.workers);
  const fits = (size: Vec3) => sourceIngestPeakBytes(info, size) <= memory;
  let step = chunkSize(scale0);
  if (!fits(step))
    throw new InvalidInput(
      `plan ingest: an Ingest task of one chunk needs about ${Math.ceil(sourceIngestPeakBytes(info, step) / 2 ** 20)} MiB, more than --memory ${Math.floor(memory / 2 ** 20)} MiB`,
    );
  const grid = shapeOf(scaleBounds(scale0));
  for (let d = 0, stuck = 0; stuck < 3; d = (d + 1) % 3) {
    const grown = step.map((s, i) => (i === d ? 2 * s : s)) as Vec3;
    if (step[d] < grid[d] && fits(grown)) {
      step = grown;
      stuck = 0;
    } else stuck++;
  }
  step = step.map((s, d) => Math.min(s, Math.ceil(grid[d] / chunkSize(scale0)[d]) * chunkSize(scale0)[d])) as Vec3;
  const mips = firstIncompleteMipOfGrid(info, step);
  const template = { kind: 'ingest', layer_path: opts.layerPath, source: opts.source, ...(mips < info.scales.length ? { mips } : {}) };
  const ingest: Stage = { name: 'ingest', sets: [boxesSet(template, 'chunk_position', '{box}', scaleBounds(scale0), step, {}, 'more --memory')] };
  return { version: 2, layer_path: opts.layerPath, stages: [ingest, ...downsampleStages(info, opts.layerPath, mips - 1, opts.memory)] };
}

function checkBuildGridAligned(size: Vec3, scale: Scale): void {
  const c = chunkSize(scale),
    grid = shapeOf(scaleBounds(scale));
  if (!size.every((s, i) => s % c[i] === 0 || s >= grid[i])) {
    throw new InvalidInput(`plan ingest: build size [${size}] is not a multiple of mip 0's chunk size [${c}]; build chunks must start on the chunk grid`);
  }
}

function ingestStage(info: Info, opts: IngestOptions, buildSize: Vec3 | undefined, listed: Float64Array | undefined, mips: number): Stage {
  const scale0 = info.scales[0];
  const suffix = buildSuffix(opts.encoding);
  const axes = opts.axes ? { axes: opts.axes } : {};
  const template = { kind: 'ingest', chunk_encoding: opts.encoding, layer_path: opts.layerPath, ...axes, ...(mips < info.scales.length ? { mips } : {}) };
  const largest = buildSize ? cells(buildSize) : Math.max(...Array.from({ length: listed!.length / 6 }, (_, i) => voxelCount(boxAt(listed!, i))));
  const peak = PROCESS_BYTES + INGEST_PEAK_PER_BUILD_BYTE * largest * voxelBytes(info);
  const memory = opts.memory ?? DEFAULT_TASK_MEMORY;
  if (peak > memory)
    throw new InvalidInput(
      `plan ingest: an Ingest task of a build chunk of ${largest} voxels needs about ${Math.ceil(peak / 2 ** 20)} MiB, more than --memory ${Math.floor(memory / 2 ** 20)} MiB; give it more --memory or smaller build chunks`,
    );
  if (buildSize)
    return {
      name: 'ingest',
      sets: [boxesSet(template, 'chunk_path', joinUrl(opts.buildPath, `{box}${suffix}`), scaleBounds(scale0), buildSize, {}, 'larger build chunks')],
    };
  const n = listed!.length / 6;
  if (n > MAX_LISTED_TASKS) throw new InvalidInput(`plan ingest: ${n} irregular build chunks would be listed one by one; give them one regular grid`);
  const list = Array.from(
    { length: n },
    (_, i) => ({ ...template, chunk_path: joinUrl(opts.buildPath, `${chunkKey(boxAt(listed!, i))}${suffix}`) }) as IngestTask,
  );
  return { name: 'ingest', sets: [{ list }] };
}

/**
 * The first mip that Ingest tasks on a regular build grid leave incomplete. The grid is a product of
 * per-axis intervals, so what they write is a product too: per axis and level, the chunk indices the
 * build intervals complete (an interval stops adding levels once it completes no chunk on some axis,
 * as Ingest stops its pyramid there).
 */
function firstIncompleteMipOfGrid(info: Info, size: Vec3): number {
  const bounds = scaleBounds(info.scales[0]);
  const perAxis = [0, 1, 2].map((d) => {
    const intervals: [number, number][] = [];
    for (let s = bounds.start[d]; s < bounds.stop[d]; s += size[d]) intervals.push([s, Math.min(s + size[d], bounds.stop[d])]);
    return intervals;
  });
  let alive = perAxis.map((iv) => iv.map(() => true));
  for (let mip = 1; mip < info.scales.length; mip++) {
    if (info.scales[mip].sharding) return mip;
    const scale = info.scales[mip];
    const grid = gridShape(scale),
      c = chunkSize(scale);
    const next = alive.map((a) => a.slice());
    const complete = [0, 1, 2].every((d) => {
      const covered = new Uint8Array(grid[d]);
      perAxis[d].forEach((iv, k) => {
        if (!next[d][k]) return;
        const lo = completedRegion1d(info, mip, d, iv);
        iv[0] = lo[0];
        iv[1] = lo[1];
        const first = Math.ceil((lo[0] - scale.voxel_offset[d]) / c[d]);
        const lastStop = lo[1] === scaleBounds(scale).stop[d] ? grid[d] : Math.floor((lo[1] - scale.voxel_offset[d]) / c[d]);
        if (lastStop <= first) {
          next[d][k] = false;
          return;
        }
        covered.fill(1, first, lastStop);
      });
      return covered.every((v) => v === 1);
    });
    // A build box stops its pyramid when it completes no chunk on some axis.
    alive = next;
    if (!complete || alive.some((a) => a.every((x) => !x))) return mip;
  }
  return info.scales.length;
}

function completedRegion1d(info: Info, mip: number, axis: number, [s, e]: [number, number]): [number, number] {
  const start: Vec3 = [0, 0, 0],
    stop: Vec3 = [1, 1, 1];
  start[axis] = s;
  stop[axis] = e;
  const full = scaleBounds(info.scales[mip - 1]);
  const region = completedRegion(info, mip, {
    start: start.map((v, i) => (i === axis ? v : full.start[i])) as Vec3,
    stop: stop.map((v, i) => (i === axis ? v : full.stop[i])) as Vec3,
  });
  return [region.start[axis], region.stop[axis]];
}

/** The same for an explicit list: bitmaps of the chunks each level gets from every build box. */
function firstIncompleteMipOfList(info: Info, boxes: Float64Array): number {
  const regions = Array.from({ length: boxes.length / 6 }, (_, i) => boxAt(boxes, i));
  for (let mip = 1; mip < info.scales.length; mip++) {
    const scale = info.scales[mip];
    if (scale.sharding) return mip;
    const grid = gridShape(scale),
      c = chunkSize(scale),
      bounds = scaleBounds(scale);
    const covered = new Uint8Array(cells(grid));
    regions.forEach((r, i) => {
      if (!r) return;
      const done = completedRegion(info, mip, r);
      const lo = done.start.map((s, d) => Math.ceil((s - bounds.start[d]) / c[d]));
      const hi = done.stop.map((s, d) => (s === bounds.stop[d] ? grid[d] : Math.floor((s - bounds.start[d]) / c[d])));
      if (!lo.every((v, d) => v < hi[d])) {
        (regions as (Box | null)[])[i] = null;
        return;
      }
      regions[i] = done;
      for (let z = lo[2]; z < hi[2]; z++)
        for (let y = lo[1]; y < hi[1]; y++) covered.fill(1, lo[0] + grid[0] * (y + grid[1] * z), hi[0] + grid[0] * (y + grid[1] * z));
    });
    if (covered.includes(0)) return mip;
  }
  return info.scales.length;
}

// ---- downsample

/** Units a mip is written in: chunks, or compact shards (blocks of chunks); null for scattered shards. */
function unitCells(scale: Scale): Vec3 | null {
  if (!scale.sharding) return [1, 1, 1];
  return compactShardShape(scale.sharding, gridShape(scale));
}

/**
 * Do the boundaries of regions tiling mip `top` in steps of `step` voxels, mapped down to each mip
 * in [low, top], fall on that mip's unit grid (or its bounds)?
 */
function alignsDown(info: Info, low: number, top: number, step: Vec3): boolean {
  const bottom = scaleBounds(info.scales[top]);
  for (let d = 0; d < 3; d++) {
    for (let p = bottom.start[d] + step[d]; p < bottom.stop[d]; p += step[d]) {
      let q = p;
      for (let mip = top; mip >= low; mip--) {
        const scale = info.scales[mip];
        const unit = unitCells(scale)!;
        const extent = chunkSize(scale)[d] * unit[d];
        const b = scaleBounds(scale);
        if (q > b.start[d] && q < b.stop[d] && (q - scale.voxel_offset[d]) % extent !== 0) return false;
        if (mip > low) q = Math.min(q * downsampleFactor(info, mip)[d], scaleBounds(info.scales[mip - 1]).stop[d]);
      }
    }
  }
  return true;
}

export interface DownsampleChoice {
  top: number;
  mips: number;
  peakBytes: number;
}

/**
 * The most mips one task can write from `m` up, within `memory`: its region is one unit of the top
 * mip, streamed in z slabs where they fall on whole chunks (downsampleSlabs). It holds one slab's
 * source, the levels made from it and encoding buffers (PEAK_PER_SOURCE_BYTE of it), the shards it
 * fills as stored, and the source's chunk objects a prefetcher fetched for it.
 */
export function chooseLevels(info: Info, m: number, memory: number): DownsampleChoice {
  const maxTop = info.scales.length - 1;
  for (let top = Math.min(maxTop, m + 7); top >= m; top--) {
    if (info.scales.slice(m, top + 1).some((s) => !unitCells(s))) continue;
    const scale = info.scales[top];
    const step = chunkSize(scale).map((c, d) => c * unitCells(scale)![d]) as Vec3;
    const peakBytes = downsamplePeakBytes(
      info,
      top,
      top - m + 1,
      intersect(box(scale.voxel_offset, scale.voxel_offset.map((o, d) => o + step[d]) as Vec3), scaleBounds(scale)),
    );
    if ((peakBytes <= memory || top === m) && alignsDown(info, m, top, step)) return { top, mips: top - m + 1, peakBytes };
  }
  return { top: m, mips: 1, peakBytes: 0 };
}

/** The peak of a Downsample task writing `region` of mip `top` and the `mips` - 1 below it (see chooseLevels). */
export function downsamplePeakBytes(info: Info, top: number, mips: number, region: Box): number {
  const slabs = downsampleSlabs(info, top, mips, region);
  const bytes = (mip: number, r: Box) => voxelCount(r) * voxelBytes(info) * (mip < 0 ? 1 : codecOf(info.scales[mip].encoding).compression);
  const source = top - mips;
  const whole = slabs[0].map((_, j) => union(slabs.map((slab) => slab[j])));
  const held = whole.reduce(
    (sum, r, j) =>
      sum + (j === 0 ? (info.scales[source].sharding ? 0 : bytes(source, r)) : info.scales[source + j].sharding ? shardWriterBytes(bytes(source + j, r)) : 0),
    0,
  );
  return PROCESS_BYTES + PEAK_PER_SOURCE_BYTE * Math.max(...slabs.map((slab) => bytes(-1, slab[0]))) + held;
}
/**
 * Stages that make mips fromMip+1 .. top: each stage's tasks write as many mips as fit in `memory`
 * from one read (a unit of its top mip each); scattered shards are written shard by shard.
 */
export function downsampleStages(info: Info, layerPath: string, fromMip: number, memory = DEFAULT_TASK_MEMORY): Stage[] {
  const stages: Stage[] = [];
  for (let m = Math.max(1, fromMip + 1); m < info.scales.length;) {
    const scale = info.scales[m];
    if (!unitCells(scale)) {
      stages.push({ name: `downsample mip ${m}`, sets: [shardSet(info, layerPath, m, 'downsample', memory)] });
      m++;
      continue;
    }
    const { top, mips, peakBytes } = chooseLevels(info, m, memory);
    if (peakBytes > memory)
      throw new InvalidInput(
        `plan downsample: one task for mip ${m} needs about ${Math.ceil(peakBytes / 2 ** 20)} MiB, more than --memory ${Math.floor(memory / 2 ** 20)} MiB`,
      );
    const topScale = info.scales[top];
    const step = chunkSize(topScale).map((c, d) => c * unitCells(topScale)![d]) as Vec3;
    const template = { kind: 'downsample', layer_path: layerPath, ...(mips > 1 ? { mips } : {}) };
    stages.push({
      name: mips > 1 ? `downsample mips ${m}-${top}` : `downsample mip ${m}`,
      sets: [boxesSet(template, 'chunk_path', `${topScale.key}/{box}`, scaleBounds(topScale), step, {}, 'larger chunks, or more --memory (more mips a task)')],
    });
    m = top + 1;
  }
  return stages;
}

export async function planDownsample(opts: { layerPath: string; fromMip?: number; memory?: number }): Promise<Plan> {
  const { info } = await Volume.open(opts.layerPath);
  return { version: 2, layer_path: opts.layerPath, stages: downsampleStages(info, opts.layerPath, opts.fromMip ?? 0, opts.memory) };
}

// ---- shards

/**
 * Shard tasks for every shard of `mip`: a box set of compact shards' regions (from build chunks that
 * span several shards, one task per build chunk's shards: each build chunk is read once), else every
 * shard number; refused when one task would need more than `memory`.
 */
export function shardSet(info: Info, layerPath: string, mip: number, source: Source, memory = DEFAULT_TASK_MEMORY): TaskSet {
  const scale = info.scales[mip];
  const unit = unitCells(scale);
  const template = { kind: 'shard', layer_path: layerPath, mip, source };
  const build = typeof source === 'object' && 'build' in source ? source.build_size : undefined;
  const shardExtent = unit && (chunkSize(scale).map((c, d) => c * unit[d]) as Vec3);
  const step = shardExtent && (shardExtent.map((e, d) => (build && build[d] > e && build[d] % e === 0 ? build[d] : e)) as Vec3);
  const region = intersect(box(scale.voxel_offset, scale.voxel_offset.map((o, d) => o + (step ?? chunkSize(scale))[d]) as Vec3), scaleBounds(scale));
  const peak = shardPeakBytes(info, mip, region, build, !unit);
  if (peak > memory)
    throw new InvalidInput(
      `plan: one shard task for mip ${mip} (${formatBox(region)}) needs about ${Math.ceil(peak / 2 ** 20)} MiB, more than --memory ${Math.floor(memory / 2 ** 20)} MiB; give it more --memory, or the layer smaller shards (--shard-mib) or smaller build chunks`,
    );
  if (step) return boxesSet(template, 'chunk_position', '{box}', scaleBounds(scale), step, {}, 'larger shards');
  const sharded = new ShardedScale(openStore(layerPath), scale.key, scale.sharding!, gridShape(scale));
  return { template, field: 'shard', count: Math.min(2 ** scale.sharding!.shard_bits, sharded.shardSpan()) };
}

/** The workers a plan expects (`workers` of the ingest options, default): see shardIngestSet. */
export const DEFAULT_WORKERS = 32;

/**
 * The mip-0 Shard tasks of a sharded ingest: each region of whole compact shards also writes the
 * shards it completes at the mips above (from the slabs it holds, as unsharded Ingest does), up to the
 * highest mip where one task still fits `memory`, its region's bounds fall on every mip's shards, and
 * the stage keeps at least two tasks a worker (or as many as the one-mip tasks would be), so that a
 * small job still spreads; else one mip a task (shardSet). `mips`: the mips the stage writes.
 */
export function shardIngestSet(
  info: Info,
  layerPath: string,
  source: Source,
  memory = DEFAULT_TASK_MEMORY,
  workers = DEFAULT_WORKERS,
): { set: TaskSet; mips: number } {
  const one = shardSet(info, layerPath, 0, source, memory);
  const oneTasks = 'step' in one ? cells(one.shape) : 0;
  const bounds0 = scaleBounds(info.scales[0]);
  const build = typeof source === 'object' && 'build' in source ? source.build_size : undefined;
  for (let top = Math.min(info.scales.length - 1, 7); top >= 1 && oneTasks > 0; top--) {
    if (info.scales.slice(0, top + 1).some((s) => !s.sharding || !unitCells(s))) continue;
    const scale = info.scales[top];
    const step = chunkSize(scale).map((c, d) => c * unitCells(scale)![d]) as Vec3;
    // The tasks tile mip 0 from its bounds: their regions are the top units' children only if the
    // top mip's offset maps down to mip 0's.
    const factor = factorBetween(info, 0, top);
    if (!factor.every((f, d) => scale.voxel_offset[d] * f === bounds0.start[d]) || !alignsDown(info, 0, top, step)) continue;
    // Each build chunk inside one task (read once): a task is a build chunk's region where build
    // chunks span several top units, as in shardSet.
    const unit0 = step.map((e, d) => e * factor[d]);
    if (build && !build.every((b, d) => unit0[d] % b === 0 || b % unit0[d] === 0)) continue;
    const step0 = unit0.map((u, d) => (build && build[d] > u ? build[d] : u)) as Vec3;
    const tasks = cells(shapeOf(bounds0).map((n, d) => Math.ceil(n / step0[d])) as Vec3);
    if (tasks < Math.min(2 * workers, oneTasks)) continue;
    const region = intersect(box(scale.voxel_offset, scale.voxel_offset.map((o, d) => o + step0[d] / factor[d]) as Vec3), scaleBounds(scale));
    if (shardLevelsPeakBytes(info, top, region, build) > memory) continue;
    const template = { kind: 'shard', layer_path: layerPath, mip: 0, source, mips: top + 1 };
    return { set: boxesSet(template, 'chunk_position', '{box}', bounds0, step0, {}, 'larger shards'), mips: top + 1 };
  }
  return { set: one, mips: 1 };
}

/**
 * The peak of a Shard task writing mips 0 to `top` of the top's `region` (a unit of it): the process,
 * one slab (downsampleSlabs) of mip-0 voxels with the levels and encoding buffers made from it
 * (PEAK_PER_SOURCE_BYTE), the build chunks that slab touches decoded, and every mip's shards as stored
 * up to what their writers hold before they spill.
 */
export function shardLevelsPeakBytes(info: Info, top: number, region: Box, build: Vec3 | undefined): number {
  const slabs = downsampleSlabs(info, top, top, region, SLAB_BYTES, true);
  const bytes = (mip: number, r: Box) => voxelCount(r) * voxelBytes(info) * codecOf(info.scales[mip].encoding).compression;
  const held = slabs[0].reduce((sum, _, j) => sum + shardWriterBytes(bytes(j, union(slabs.map((slab) => slab[j])))), 0);
  const perSlab = (slab: Box[]) => PEAK_PER_SOURCE_BYTE * voxelCount(slab[0]) * voxelBytes(info) + buildChunksBytes(info, slab[0], build);
  return PROCESS_BYTES + Math.max(...slabs.map(perSlab)) + held;
}

/**
 * Build chunks (of `build` voxels, tiling mip 0 from its offset) decoded: `chunks` of them, or by
 * default those that `region` touches.
 */
function buildChunksBytes(info: Info, region: Box, build: Vec3 | undefined, chunks?: number): number {
  if (!build) return 0;
  const offset = info.scales[0].voxel_offset;
  const n = [0, 1, 2].map((d) => Math.ceil((region.stop[d] - offset[d]) / build[d]) - Math.floor((region.start[d] - offset[d]) / build[d]));
  return (chunks ?? n[0] * n[1] * n[2]) * cells(build) * voxelBytes(info) * BUILD_DECODE_FACTOR;
}

/** Bytes of a build chunk decoded, over its voxels' bytes: the npz's inflated bytes and the array made of them. */
const BUILD_DECODE_FACTOR = 2;

/**
 * The peak of a Shard task writing `region` of `mip` (a compact shard's, or one chunk's of a
 * scattered shard): the process, one slab at a time (slabsOf, as the task cuts it) twice over (the
 * voxels and their copy into a chunk), the build chunks it touches decoded, and the shards' chunks as
 * stored, up to what the writer holds before it spills (shardWriterBytes). Measured: 863 MiB for a
 * 1024x1024x256 uint8 shard planned at 842 (bench/sharded-memory.ts).
 */
export function shardPeakBytes(info: Info, mip: number, region: Box, build: Vec3 | undefined, scattered: boolean): number {
  const scale = info.scales[mip];
  const vb = voxelBytes(info);
  const slab = scattered ? [region] : shardSlabs(info, mip, region, build);
  const buildBytes = (b: Box) => buildChunksBytes(info, b, build, scattered ? CACHED_BUILD_CHUNKS : undefined);
  const shardChunks = scattered ? 2 ** (scale.sharding!.preshift_bits + scale.sharding!.minishard_bits) : 1;
  const held = shardWriterBytes(voxelCount(region) * shardChunks * vb * codecOf(scale.encoding).compression);
  return PROCESS_BYTES + Math.max(...slab.map((b) => 2 * voxelCount(b) * vb + buildBytes(b))) + held;
}

// ---- meshes, watershed, mean graph

/**
 * The segmentation layer `layerPath` for `what` (meshes, skeletons), its info given the directory
 * keys it lacks (`mesh: 'mesh'`, ...), saved once if any was missing.
 */
async function segmentationWithKeys(layerPath: string, command: string, noun: string, keys: Record<string, string>): Promise<Volume> {
  const volume = await Volume.open(layerPath);
  if (volume.info.type !== 'segmentation') throw new InvalidInput(`${command}: layer ${layerPath} is of type ${volume.info.type}, ${noun} need a segmentation`);
  const missing = Object.keys(keys).filter((k) => !volume.info[k]);
  for (const k of missing) volume.info[k] = keys[k];
  if (missing.length > 0) await volume.saveInfo();
  return volume;
}

/** Minishards of a mesh (or skeleton) shard: 2^6, so each minishard index lists a few hundred segments. */
const MESH_MINISHARD_BITS = 6;

/** Sharding of per-segment objects (meshes, skeletons) in 2^shardBits shards: murmurhash of the id, 64 minishards. */
function segmentSharding(shardBits: number, dataEncoding: 'raw' | 'gzip') {
  return {
    '@type': 'neuroglancer_uint64_sharded_v1' as const,
    hash: 'murmurhash3_x86_128' as const,
    preshift_bits: 0,
    minishard_bits: MESH_MINISHARD_BITS,
    shard_bits: shardBits,
    minishard_index_encoding: 'gzip' as const,
    data_encoding: dataEncoding,
  };
}

/**
 * Mesh every chunk of one scale, then write the manifests (one task per leading digit of the ids).
 * Gives the layer a mesh directory first when it has none: info "mesh" and mesh/info.
 */
export async function planMesh(
  opts: {
    layerPath: string;
    mip?: number;
    lod?: number;
    simplification?: number;
    segments?: (number | string)[];
  } & TaskSizing,
): Promise<Plan> {
  const volume = await segmentationWithKeys(opts.layerPath, 'plan mesh', 'meshes', { mesh: 'mesh' });
  const dir = meshDirectory(volume, 'plan mesh');
  if (!(await volume.store.exists(`${dir}/info`))) {
    await volume.store.put(`${dir}/info`, new TextEncoder().encode(JSON.stringify(LEGACY_MESH_INFO)), { contentType: 'application/json' });
  }
  const scale = volume.scale(opts.mip ?? 0);
  const lod = opts.lod ? { lod: opts.lod } : {};
  const template = {
    kind: 'mesh',
    chunk_key: scale.key,
    layer_path: opts.layerPath,
    ...lod,
    ...(opts.simplification ? { simplification: opts.simplification } : {}),
    ...(opts.segments?.length ? { segments: opts.segments } : {}),
  };
  const manifests = '123456789'.split('').map((prefix) => ({ kind: 'mesh_manifest' as const, layer_path: opts.layerPath, ...lod, prefix }));
  return {
    version: 2,
    layer_path: opts.layerPath,
    stages: [
      { name: 'mesh', sets: [sizedSet(scale, TASK_COSTS.mesh, opts, template, 'chunk_position')] },
      { name: 'mesh manifests', sets: [{ list: manifests }] },
    ],
  };
}

export interface MultiresMeshOptions {
  layerPath: string;
  /** Most lods a segment gets (default DEFAULT_MAX_LODS). */
  lods?: number;
  /** Sharded: 2^shardBits shards, one MeshMerge task each ('auto': about as many as forge tasks); unsharded when absent. */
  shardBits?: number | 'auto';
  /** Chunks a side of a MeshForge task's box (default: the largest cube of chunks that fits `memory`). */
  forgeBlock?: number;
  /** Bytes a MeshForge task may use (default DEFAULT_TASK_MEMORY). */
  memory?: number;
  /** Unsharded: MeshMerge tasks (segment id mod batches); default one per forge task. */
  batches?: number;
  /** Forge boxes a side of a MeshGather block (0: no gather stage); default: gathered where forge tasks x merge groups pass GATHER_ABOVE. */
  gatherBlock?: number;
}

/**
 * Without a gather stage every merge task reads every forge task's index: forge tasks x groups
 * reads. Past 2^24 of them (about $7 of GETs; 4,096 forge tasks and shards: ~10 TB at the default
 * sizes) the plan gathers first.
 */
export const GATHER_ABOVE = 2 ** 24;

/**
 * A gather block of b^3 forge boxes and ranges of groups that balance the two stages: with u ranges a
 * gather task holds b^3 / u forge tasks' worth of fragments (u = b^3: about one, as a merge task
 * does), and reads are 2 x forge tasks x u (gather) + 2 x groups x forge tasks / b^3 (merge): least
 * at u = b^3 = sqrt(groups).
 */
export function gatherShape(groups: number, forgeTasks: number, block?: number): { block: number; groupsPerRange: number; ranges: number } | undefined {
  if (block === 0 || (block === undefined && forgeTasks * groups <= GATHER_ABOVE)) return undefined;
  const b = block ?? Math.max(2, Math.round(Math.cbrt(Math.sqrt(groups))));
  const groupsPerRange = Math.ceil(groups / Math.min(groups, b ** 3));
  return { block: b, groupsPerRange, ranges: Math.ceil(groups / groupsPerRange) };
}

/** The largest cube of chunks (at least one) whose forge task fits `memory` bytes. */
export function forgeBlockFor(chunk: Vec3, memory: number): number {
  return taskBlock(TASK_COSTS.mesh, chunk, [Infinity, Infinity, Infinity], memory).block[0];
}

/**
 * Multi-resolution meshes of mip 0: MeshForge per box of chunks (lod 0 fragments, one object a task),
 * then MeshMerge per shard or segment batch (lods, Draco, manifests), then SegmentProperties (the
 * largest segments' sizes). Writes the mesh info (and the layer's "mesh" and "segment_properties"
 * keys) first; refuses a mesh directory that holds another format.
 */
export async function planMultiresMesh(opts: MultiresMeshOptions): Promise<Plan> {
  const volume = await segmentationWithKeys(opts.layerPath, 'plan mesh', 'meshes', { mesh: 'mesh', segment_properties: 'segment_properties' });
  const dir = meshDirectory(volume, 'plan mesh');
  const scale = volume.scale(0);
  const forgeBlock = opts.forgeBlock ?? forgeBlockFor(chunkSize(scale), opts.memory ?? DEFAULT_TASK_MEMORY);
  const forgeTasks = chunkBlockCount(volume, forgeBlock);
  // 'auto': about as many shards as forge tasks (a power of two, at least half as many), so that a
  // merge task holds about one forge task's fragments.
  const shardBits = opts.shardBits === 'auto' ? Math.max(0, Math.ceil(Math.log2(forgeTasks / 2))) : opts.shardBits;
  // Raw data: a manifest's fragments are found by byte offsets before it in the shard.
  const sharding = shardBits === undefined ? undefined : segmentSharding(shardBits, 'raw');
  const info = multiresInfo(scale.resolution, sharding);
  const existing = await volume.store.get(`${dir}/info`, { maxBytes: 64 << 10 });
  if (existing) {
    const type = (JSON.parse(new TextDecoder().decode(existing)) as { '@type'?: string })['@type'];
    if (type !== MULTIRES_MESH_TYPE)
      throw new InvalidInput(
        `plan mesh: ${opts.layerPath}/${dir}/info is ${JSON.stringify(type)}; write multires meshes to a layer whose "mesh" directory has none`,
      );
  }
  await volume.store.put(`${dir}/info`, new TextEncoder().encode(JSON.stringify(info)), { contentType: 'application/json' });
  const batches = sharding ? undefined : (opts.batches ?? forgeTasks);
  const common = { layer_path: opts.layerPath, ...(batches ? { batches } : {}) };
  const groups = sharding ? 2 ** sharding.shard_bits : batches!;
  const gather = gatherShape(groups, forgeTasks, opts.gatherBlock);
  const gathered = gather ? { gather_groups: gather.groupsPerRange } : {};
  const forge = boxesSet(
    { kind: 'mesh_forge', ...common, ...gathered },
    'chunk_position',
    '{box}',
    scaleBounds(scale),
    chunkSize(scale).map((c) => c * forgeBlock) as Vec3,
  );
  const merge = {
    template: {
      kind: 'mesh_merge',
      ...common,
      forge_block: forgeBlock,
      ...(opts.lods ? { lods: opts.lods } : {}),
      ...(gather ? { gather_block: gather.block, ...gathered } : {}),
    },
    field: 'group',
    count: groups,
  };
  const gatherStage = gather && {
    name: 'mesh gather',
    sets: [
      {
        template: { kind: 'mesh_gather', ...common, forge_block: forgeBlock, gather_block: gather.block, ...gathered },
        field: 'part',
        count: chunkBlockCount(volume, forgeBlock * gather.block) * gather.ranges,
      },
    ],
  };
  return {
    version: 2,
    layer_path: opts.layerPath,
    stages: [
      { name: 'mesh forge', sets: [forge] },
      ...(gatherStage ? [gatherStage] : []),
      { name: 'mesh merge', sets: [merge] },
      { name: 'segment properties', sets: [{ list: [{ kind: 'segment_properties', layer_path: opts.layerPath, groups: merge.count }] }] },
    ],
  };
}

export interface SkeletonOptions {
  layerPath: string;
  /** Sharded: 2^shardBits shards, one SkeletonMerge task each; unsharded when absent. */
  shardBits?: number;
  /** Unsharded: SkeletonMerge tasks (segment id mod batches); default one per Skeletonize task. */
  batches?: number;
  /** Chunks a side of a Skeletonize task's box (default: the most that fit `memory`). */
  block?: number;
  /** Bytes a task may use (default DEFAULT_TASK_MEMORY). */
  memory?: number;
  /** TEASAR's invalidation ball, scale * DBF + const (nm), and the smallest piece skeletonized (voxels). */
  scale?: number;
  const?: number;
  dust?: number;
  /** Skeletonize boxes a side of a SkeletonGather block (0: no gather stage); default: gathered where tasks x merge groups pass GATHER_ABOVE. */
  gatherBlock?: number;
}

/** The largest cube of chunks (at least one) whose Skeletonize task fits `memory` bytes. */
export function skeletonBlockFor(chunk: Vec3, memory: number): number {
  return taskBlock(TASK_COSTS.skeletonize, chunk, [Infinity, Infinity, Infinity], memory).block[0];
}

/**
 * Skeletons of mip 0: Skeletonize per box of chunks (TEASAR, stitched at the faces it shares), then
 * (where merges would read too many boxes' indexes, as for meshes) SkeletonGather per block of boxes
 * and range of groups, then SkeletonMerge per shard or batch of ids. Writes the skeleton info (and
 * the layer's "skeletons" key) first.
 */
export async function planSkeleton(opts: SkeletonOptions): Promise<Plan> {
  const volume = await segmentationWithKeys(opts.layerPath, 'plan skeleton', 'skeletons', { skeletons: 'skeletons' });
  const scale = volume.scale(0);
  const block = opts.block ?? skeletonBlockFor(chunkSize(scale), opts.memory ?? DEFAULT_TASK_MEMORY);
  const tasks = chunkBlockCount(volume, block);
  const sharding = opts.shardBits === undefined ? undefined : segmentSharding(opts.shardBits, 'gzip');
  const dir = String(volume.info.skeletons);
  await volume.store.put(
    `${dir}/info`,
    new TextEncoder().encode(JSON.stringify(skeletonInfo(scale.resolution as Vec3, scale.voxel_offset as Vec3, sharding))),
    {
      contentType: 'application/json',
    },
  );
  const batches = sharding ? undefined : (opts.batches ?? tasks);
  const common = { layer_path: opts.layerPath, ...(batches ? { batches } : {}) };
  const params = {
    ...(opts.scale !== undefined ? { scale: opts.scale } : {}),
    ...(opts.const !== undefined ? { const: opts.const } : {}),
    ...(opts.dust !== undefined ? { dust: opts.dust } : {}),
  };
  const groups = sharding ? 2 ** sharding.shard_bits : batches!;
  const gather = gatherShape(groups, tasks, opts.gatherBlock);
  const gathered = gather ? { gather_groups: gather.groupsPerRange } : {};
  const gatherStage = gather && {
    name: 'skeleton gather',
    sets: [
      {
        template: { kind: 'skeleton_gather', ...common, block, gather_block: gather.block, ...gathered },
        field: 'part',
        count: chunkBlockCount(volume, block * gather.block) * gather.ranges,
      },
    ],
  };
  return {
    version: 2,
    layer_path: opts.layerPath,
    stages: [
      {
        name: 'skeletonize',
        sets: [
          boxesSet(
            { kind: 'skeletonize', ...common, ...params, ...gathered },
            'chunk_position',
            '{box}',
            scaleBounds(scale),
            chunkSize(scale).map((c) => c * block) as Vec3,
          ),
        ],
      },
      ...(gatherStage ? [gatherStage] : []),
      {
        name: 'skeleton merge',
        sets: [
          {
            template: {
              kind: 'skeleton_merge',
              ...common,
              block,
              ...(opts.scale !== undefined ? { scale: opts.scale } : {}),
              ...(gather ? { gather_block: gather.block, ...gathered } : {}),
            },
            field: 'group',
            count: groups,
          },
        ],
      },
    ],
  };
}

/**
 * Watershed tasks of whole segmentation chunks (as many as fit `memory`): each box grown by `overlap`
 * voxels (within the bounds), cropped back to its chunks. A sharded segmentation is written in whole
 * shards; where one shard's task does not fit `memory` (igneous-sized shards never do), the watershed
 * goes into an unsharded staging layer beside it (`<segmentation>-unsharded`, its scales without
 * sharding), then Shard tasks stream it into the shards.
 */
export async function planWatershed(
  opts: { affinitiesPath: string; segmentationPath: string; params: WatershedParamsJson; overlap?: number } & TaskSizing,
): Promise<Plan> {
  const { segmentation } = await openAffinityLayers(
    { layer_path_affinities: opts.affinitiesPath, layer_path_segmentation: opts.segmentationPath },
    'plan watershed',
  );
  const scale = segmentation.scale(0);
  const grow = opts.overlap ?? 0;
  const memory = opts.memory ?? DEFAULT_TASK_MEMORY;
  const staged = scale.sharding !== undefined && taskSize(scale, TASK_COSTS.watershed, opts, 'watershed', grow, true).bytes > memory;
  const target = staged ? await stagingLayer(segmentation) : segmentation;
  const template = { kind: 'watershed', layer_path_affinities: opts.affinitiesPath, layer_path_segmentation: target.url, ...opts.params };
  const set = sizedSet(target.scale(0), TASK_COSTS.watershed, opts, template, 'crop_position', { grown_field: 'chunk_position', grow }, true);
  const stages: Stage[] = [{ name: 'watershed', sets: [set] }];
  if (staged) stages.push({ name: 'watershed into shards', sets: [shardSet(segmentation.info, segmentation.url, 0, { layer: target.url }, memory)] });
  return { version: 2, layer_path: opts.segmentationPath, stages };
}

/** The unsharded twin of a sharded layer beside it (`<url>-unsharded`), made from its info if missing. */
async function stagingLayer(volume: Volume): Promise<Volume> {
  const url = `${volume.url.replace(/\/+$/, '')}-unsharded`;
  if (await openStore(url).exists('info')) {
    const staging = await Volume.open(url);
    checkSameGeometry(volume, staging, 'plan watershed');
    if (staging.info.scales.some((s) => s.sharding)) throw new InvalidInput(`plan watershed: the staging layer ${url} is sharded; remove it`);
    return staging;
  }
  const info = structuredClone(volume.info);
  delete info.mesh;
  for (const s of info.scales) delete s.sharding;
  return Volume.create(url, info);
}

/** MeanGraph tasks of whole chunks (as many as fit `memory`): a region graph per chunk. */
export async function planMeanGraph(opts: { affinitiesPath: string; segmentationPath: string } & TaskSizing): Promise<Plan> {
  const { segmentation } = await openAffinityLayers(
    { layer_path_affinities: opts.affinitiesPath, layer_path_segmentation: opts.segmentationPath },
    'plan mean-graph',
  );
  const template = { kind: 'mean_graph', layer_path_affinities: opts.affinitiesPath, layer_path_segmentation: opts.segmentationPath };
  return {
    version: 2,
    layer_path: opts.segmentationPath,
    stages: [{ name: 'mean graph', sets: [sizedSet(segmentation.scale(0), TASK_COSTS.mean_graph, opts, template, 'chunk_position')] }],
  };
}

// ---- agglomeration

export interface AgglomerateOptions {
  affinitiesPath: string;
  /** The watershed layer (it gets the region graph and the mapping). */
  segmentationPath: string;
  threshold: number;
  /** The agglomerated layer; default: segmentation_<threshold> beside the watershed layer. */
  outPath?: string;
  /** Meshes of the agglomerated segments: multi-resolution (default; sharded as `shardBits` says) or legacy. */
  meshFormat?: 'multires' | 'legacy';
  /** Legacy meshes: simplification (0..10). */
  simplification?: number;
  /** Multi-resolution meshes: sharded in 2^shardBits shards (default 'auto', as planMultiresMesh), or 'unsharded'. */
  shardBits?: number | 'auto' | 'unsharded';
  /** Chunks a side of a level 0 agglomeration block (default DEFAULT_AGGLOMERATION_BLOCK); at least the grid: one task. */
  block?: number;
  /** Bytes a task may use (default DEFAULT_TASK_MEMORY): sizes the mean graph, remap, downsample and mesh tasks. */
  memory?: number;
  /** Chunks a side of each mean graph, remap and legacy mesh task instead (not the forge's: forgeBlock). */
  taskChunks?: number;
  /** Multi-resolution meshes: forge blocks a side of a MeshGather task (0: none; default by the plan's size, as planMultiresMesh). */
  gatherBlock?: number;
  /**
   * Skeletons of the agglomerated layer too (planSkeleton at `memory`, sharded as the multi-resolution
   * meshes are; with legacy meshes, unsharded), gathered before the merges as the meshes are
   * (`gatherBlock`).
   */
  skeletons?: boolean;
}

/** Level 0 blocks of 4x4x4 chunks: 64 chunk graphs, a few hundred thousand edges for 64^3 chunks. */
export const DEFAULT_AGGLOMERATION_BLOCK = 4;

/** The agglomerated layer's default URL: `segmentation_<t>` beside the watershed layer. */
export function agglomeratedLayerPath(segmentationPath: string, threshold: number): string {
  return joinUrl(splitUrl(segmentationPath).parent, `segmentation_${threshold}`);
}

/**
 * Region graph (MeanGraph per chunk), the blockwise agglomeration (block levels up, names down, the
 * mapping shard by shard), Remap of mip 0 chunk by chunk into the agglomerated layer (created here:
 * the watershed's scales, no meshes yet), its mips by Downsample, then its meshes (forge and merge,
 * or legacy meshes and manifests).
 */
export async function planAgglomerate(opts: AgglomerateOptions): Promise<Plan> {
  if (!(opts.threshold >= 0 && opts.threshold <= 1)) throw new InvalidInput(`plan agglomerate: --threshold ${opts.threshold} must be in [0, 1]`);
  const memory = opts.memory ?? DEFAULT_TASK_MEMORY;
  const sizing = { memory, taskChunks: opts.taskChunks };
  const graph = await planMeanGraph({ affinitiesPath: opts.affinitiesPath, segmentationPath: opts.segmentationPath, ...sizing });
  const source = await Volume.open(opts.segmentationPath);
  const outPath = opts.outPath ?? agglomeratedLayerPath(opts.segmentationPath, opts.threshold);
  // The watershed's mip 0 (its grid, encoding) with mips up to one chunk, by the watershed's own
  // downsampling factors (its last one repeated), or toward isotropic voxels when it has no mips.
  const s0 = source.scale(0);
  const factors = source.info.scales.slice(1).map((_, i) => downsampleFactor(source.info, i + 1));
  const info = createInfo({
    type: 'segmentation',
    dataType: source.info.data_type,
    size: s0.size,
    resolution: s0.resolution,
    voxelOffset: s0.voxel_offset,
    chunkSize: s0.chunk_sizes[0],
    encoding: s0.encoding,
    blockSize: s0.compressed_segmentation_block_size,
    factors: factors.length ? factors : towardIsotropic(s0.resolution),
  });
  // Sharded as the watershed is: each scale's shards of as many chunks as the watershed's mip 0 has.
  if (s0.sharding) {
    const chunks = 2 ** (s0.sharding.preshift_bits + s0.sharding.minishard_bits);
    const chunkBytes = cells(chunkSize(s0)) * BYTES_PER_VOXEL[source.info.data_type];
    for (const scale of info.scales)
      scale.sharding = chooseSharding(gridShape(scale), chunkBytes, { targetBytes: chunks * chunkBytes, dataEncoding: s0.sharding.data_encoding });
  }
  const out = (await openStore(outPath).exists('info')) ? await Volume.open(outPath) : await Volume.create(outPath, info);
  const grid = (s: Scale) => JSON.stringify([s.voxel_offset, s.size, s.chunk_sizes[0]]);
  if (out.info.data_type !== source.info.data_type || grid(out.scale(0)) !== grid(s0)) {
    throw new InvalidInput(`plan agglomerate: ${outPath} exists with another grid or data type than ${opts.segmentationPath}`);
  }
  const remap = { kind: 'remap', layer_path_segmentation: opts.segmentationPath, layer_path: outPath, threshold: opts.threshold };
  const meshes =
    opts.meshFormat === 'legacy'
      ? await planMesh({ layerPath: outPath, simplification: opts.simplification, ...sizing })
      : await planMultiresMesh({
          layerPath: outPath,
          shardBits: opts.shardBits === 'unsharded' ? undefined : (opts.shardBits ?? 'auto'),
          memory,
          gatherBlock: opts.gatherBlock,
        });
  return {
    version: 2,
    layer_path: outPath,
    stages: [
      ...graph.stages,
      ...(await planAgglomerationTree({ segmentationPath: opts.segmentationPath, threshold: opts.threshold, block: opts.block })).stages,
      { name: 'remap', sets: [sizedSet(out.scale(0), TASK_COSTS.remap, sizing, remap, 'chunk_position', {}, true)] },
      ...downsampleStages(out.info, outPath, 0, memory),
      ...meshes.stages,
      ...(opts.skeletons
        ? (await planSkeleton({ layerPath: outPath, shardBits: await meshShardBits(await Volume.open(outPath)), memory, gatherBlock: opts.gatherBlock })).stages
        : []),
    ],
  };
}

/** The shard bits of a layer's multi-resolution meshes (undefined: unsharded or legacy). */
async function meshShardBits(volume: Volume): Promise<number | undefined> {
  const dir = volume.info.mesh;
  if (typeof dir !== 'string') return undefined;
  const info = await volume.store.get(`${dir}/info`, { maxBytes: 64 << 10 });
  const sharding = info && (JSON.parse(new TextDecoder().decode(info)) as { sharding?: { shard_bits?: number } }).sharding;
  return sharding?.shard_bits;
}

/**
 * Downsampling factors that halve each axis whose voxels are less than twice the finest axis's, mip
 * after mip (4x4x40 nm: 2x2x1 until 32x32x40, then 2x2x2), as igneous chooses them; enough mips for
 * any volume.
 */
function towardIsotropic(resolution: Vec3): Vec3[] {
  const factors: Vec3[] = [];
  let r = resolution;
  for (let mip = 0; mip < 40; mip++) {
    const finest = Math.min(...r);
    const f = r.map((v) => (v < 2 * finest ? 2 : 1)) as Vec3;
    factors.push(f);
    r = r.map((v, d) => v * f[d]) as Vec3;
  }
  return factors;
}

/**
 * The block tree's stages (affinities/block-tree.ts): AgglomerateBlock per level up to the root,
 * AgglomerateNames per level down from it, then AgglomerateMapping per shard of the mapping, whose
 * info this writes (shards of 512 chunks: each task reads the names of about that many chunks).
 */
export async function planAgglomerationTree(opts: { segmentationPath: string; threshold: number; block?: number }): Promise<Plan> {
  const { segmentationPath, threshold } = opts;
  if (!(threshold >= 0 && threshold <= 1)) throw new InvalidInput(`plan agglomerate: --threshold ${threshold} must be in [0, 1]`);
  const source = await Volume.open(segmentationPath);
  const scale = source.scale(0);
  const leaf = opts.block ?? DEFAULT_AGGLOMERATION_BLOCK;
  const tree = checkTree({ grid: gridShape(scale), leaf: Math.min(leaf, Math.max(...gridShape(scale))) });
  const top = rootLevel(tree);
  const common = { layer_path_segmentation: segmentationPath, threshold, block: tree.leaf };
  const blocks = (kind: string, level: number) =>
    boxesSet(
      { kind, ...common, level },
      'block_position',
      '{box}',
      scaleBounds(scale),
      chunkSize(scale).map((c) => c * blockSide(tree, level)) as Vec3,
      {},
      'a larger --block',
    );
  const sharding = chooseSharding(tree.grid, 1, { targetBytes: 512 });
  await source.store.put(`${mappingDir(threshold)}/info`, new TextEncoder().encode(JSON.stringify(mappingInfo(tree.grid, sharding))), {
    contentType: 'application/json',
  });
  const mapping = new ShardedScale(source.store, mappingDir(threshold), sharding, tree.grid);
  const stages: Stage[] = [
    ...Array.from({ length: top + 1 }, (_, level) => ({ name: `agglomerate level ${level}`, sets: [blocks('agglomerate_block', level)] })),
    ...Array.from({ length: top }, (_, i) => ({ name: `agglomeration names level ${top - i}`, sets: [blocks('agglomerate_names', top - i)] })),
    {
      name: 'agglomeration mapping',
      sets: [{ template: { kind: 'agglomerate_mapping', ...common }, field: 'shard', count: mapping.shardSpan() }],
    },
  ];
  return { version: 2, layer_path: segmentationPath, stages };
}

// ---- transfer

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
  const sets = dst.info.scales.map((scale, mip) => {
    if (scale.sharding) return shardSet(dst.info, opts.to, mip, { layer: opts.from });
    const template = { kind: 'transfer', layer_path: opts.to, source_path: opts.from, mip };
    return boxesSet(template, 'chunk_position', '{box}', scaleBounds(scale), chunkBlock(dst.info, scale, opts.taskBytes ?? 256 << 20), {}, 'larger chunks');
  });
  return { version: 2, layer_path: opts.to, stages: [{ name: 'transfer', sets }] };
}

async function openOrCreateCopy(src: Volume, opts: TransferOptions): Promise<Volume> {
  if (await openStore(opts.to).exists('info')) {
    if (opts.sharding)
      throw new InvalidInput(`plan transfer: ${opts.to} exists already; its info says how it is stored (--sharded and --unsharded only shape a new one)`);
    return Volume.open(opts.to);
  }
  const info = structuredClone(src.info);
  delete info.mesh; // volumes are copied, not meshes: the copy has none until they are made for it
  const chunk = chunkSize(info.scales[0]);
  const chunkBytes = cells(chunk) * voxelBytes(info);
  for (const scale of info.scales) {
    if (opts.sharding === 'unsharded') delete scale.sharding;
    else if (opts.sharding) scale.sharding = chooseSharding(gridShape(scale), chunkBytes, opts.sharding);
  }
  return Volume.create(opts.to, info);
}

/** A block of up to 8x8x8 whole chunks of at most `bytes` uncompressed: a Transfer task's region. */
function chunkBlock(info: Info, scale: Scale, bytes: number): Vec3 {
  const c = chunkSize(scale);
  const block: Vec3 = [8, 8, 8];
  for (let axis = 2; cells(block) * cells(c) * voxelBytes(info) > bytes && block.some((b) => b > 1); axis = (axis + 2) % 3) {
    if (block[axis] > 1) block[axis] /= 2;
  }
  return block.map((b, d) => b * c[d]) as Vec3;
}
