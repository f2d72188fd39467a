// What a plan will cost, before anything runs: tasks, objects written, bytes stored, storage
// operations, CPU-hours from measured speeds, and their price at given rates. Every kind is costed
// as its tasks do the work: the objects each writes (chunks or shards of the mips it writes, graphs,
// names, forge objects, meshes), the reads each makes (infos, build chunks, the chunks and shard
// indices its box touches, counted per axis of the task grid), its core time from MVX_PER_CORE; the
// region graph and its agglomeration level by level in edges (graph-estimate.ts). Compression
// ratios, densities, speeds and mesh sizes are assumptions, printed with it.
import { codecOf, ENCODINGS } from '../../codecs/registry.js';
import { BYTES_PER_VOXEL } from '../../common/dtype.js';
import { Box, Vec3 } from '../../common/box.js';
import { chunkSize, downsampleFactor, factorBetween, gridShape, Info, Scale, scaleBounds, voxelBytes } from '../../precomputed/info.js';
import { compactShardShape } from '../../precomputed/sharding.js';
import { ShardedScale } from '../../precomputed/sharded-scale.js';
import { openStore } from '../../storage/open.js';
import { blockGrid, checkTree, rootLevel } from '../../affinities/block-tree.js';
import { Plan, stageSize, TaskSet } from './format.js';
import {
  AGGLOMERATE_US_PER_EDGE,
  agglomerateLevelEstimate,
  ASSUMED_DENSITY,
  GraphDensity,
  GraphStageEstimate,
  MEAN_GRAPH_MVX_PER_CORE,
  meanGraphEstimate,
  regionsListed,
} from './graph-estimate.js';

export interface Rates {
  /** USD per 1000 writes and lists (GCS class A), reads (class B). */
  classA: number;
  classB: number;
  /** USD per GB-month stored. */
  storage: number;
  /** USD per vCPU-hour (with its memory). */
  cpuHour: number;
}

/** GCS standard storage in a US region, and an on-demand n2 vCPU with 4 GB. */
export const DEFAULT_RATES: Rates = { classA: 0.005, classB: 0.0004, storage: 0.02, cpuHour: 0.0475 };

/** Megavoxels per second per core, ingest + downsample (bench/RESULTS.md, uint8 image). */
export const DEFAULT_MVX_PER_CORE = 20;

export interface StageEstimate {
  name: string;
  tasks: number;
  objects: number;
  bytes: number;
  reads: number;
  writes: number;
  voxels: number;
  coreHours: number;
  /** Region-graph stages: the edges they read, and those of their largest task. */
  edges?: number;
  edgesPerTask?: number;
}

export interface Estimate {
  stages: StageEstimate[];
  total: StageEstimate;
  cpuHours: number;
  price: { writes: number; reads: number; storageMonth: number; compute: number; total: number };
  assumptions: string;
}

const cells = (v: number[]) => v[0] * v[1] * v[2];

/**
 * Megavoxels per second per core of each kind, of the voxels its box holds (a watershed's grown box),
 * one thread on the 2-core AMD EPYC VM, 2026-12-03 (bench/RESULTS.md, bench/task-memory.ts at 256^3
 * and 384^3 of the demo generator's affinities; its estimate column shows each stage against them):
 * watershed 0.81-1.0, remap 12-14, forge 0.87-1.26, merge 0.28-0.33 (meshing follows the surface, not
 * the voxels), mode downsample of segmentation 32-38 (voxels written and read). Segmentation ingest:
 * 27.6 MVx/s on 2 threads over 512^3 (npz decode, compressed_segmentation encode). Legacy meshes:
 * 1.5 on the Intel VM (bench/multires-mesh.ts), which ran the others about 1.5x faster.
 */
/**
 * Skeletonize and SkeletonMerge, MVx/s a core (bench/task-memory.ts at 256^3: one 256^3 Skeletonize
 * task of the agglomerated demo cells in 59.4 s on 2026-12-04, 4 merges in 0.7 s; 47.3 s on
 * 2026-12-06 after the faster invalidation, in a run whose watershed took 23.1 s against 16.3 s:
 * about 0.5 at the machine speed the other figures were measured at). SkeletonGather at the merge's.
 */
const SKELETONIZE_MVX = 0.5,
  SKELETON_MERGE_MVX = 20;

export const MVX_PER_CORE: Record<string, number> = {
  segmentation: 12,
  segmentation_downsample: 30,
  watershed: 0.9,
  remap: 13,
  mesh: 1.0,
  mesh_forge: 1.0,
  mesh_merge: 0.3,
  // Measured 2026-12-04 (bench/task-memory.ts --size 256 --gather-block 2: 4 tasks, 16.8 M voxels in 1.9 s).
  mesh_gather: 9,
  skeletonize: SKELETONIZE_MVX,
  skeleton_gather: SKELETON_MERGE_MVX,
  skeleton_merge: SKELETON_MERGE_MVX,
};

/** Stored bytes a mip-0 voxel makes in skeleton pieces (each box's), then in the merged skeletons: 1.28 MB and 0.58 MB for 256^3 of the demo's cells. */
export const SKELETON_BYTES_PER_VOXEL: Record<string, number> = { skeletonize: 0.08, skeleton_merge: 0.035 };

/**
 * Stored bytes a mip-0 voxel makes, on the demo's cells (bench/multires-mesh.ts, 512^3): legacy
 * fragments 5.4 (gzipped), forge intermediates 10.7, multi-resolution shards 1.0. They follow the
 * surface: EM neurites have more a voxel than the demo's cells (take 0.5x-2x).
 */
export const MESH_BYTES_PER_VOXEL: Record<string, number> = { mesh: 5.4, mesh_forge: 10.7, mesh_merge: 1.0 };

/** The layers each kind's task opens (an info read each; one where not listed). */
const INFO_READS: Record<string, number> = {
  watershed: 2,
  mean_graph: 2,
  remap: 3,
  transfer: 2,
  mesh_forge: 2,
  mesh_gather: 2,
  mesh_merge: 2,
  segment_properties: 2,
  skeletonize: 2,
  skeleton_gather: 2,
  skeleton_merge: 2,
};

type BoxSet = Extract<TaskSet, { format: string }>;

/** A grid over voxels: cells of `cell` from `origin`, inside `bounds`. */
interface Grid {
  origin: Vec3;
  cell: Vec3;
  bounds: Box;
}
const chunkGrid = (scale: Scale): Grid => ({ origin: scale.voxel_offset, cell: chunkSize(scale), bounds: scaleBounds(scale) });

/**
 * A box set's task intervals along axis `d` (clipped, grown by its `grow`), scaled by `f`, padded by
 * `pad` below and above; `layer` cuts each into pieces of that length first (a task reading a layer at a time).
 */
function intervals(set: BoxSet, d: number, f = 1, pad: [number, number] = [0, 0], layer = Infinity): [number, number][] {
  const out: [number, number][] = [];
  const grow = set.grow ?? 0;
  for (let g = 0; g < set.shape[d]; g++) {
    const a = Math.max(set.clip.start[d], set.origin[d] + g * set.step[d]),
      b = Math.min(set.clip.stop[d], set.origin[d] + (g + 1) * set.step[d]);
    for (let s = a; s < b; s += layer) out.push([(s - grow) * f - pad[0], (Math.min(b, s + layer) + grow) * f + pad[1]]);
  }
  return out;
}

/**
 * Over a box set's tasks, the cells of `grid` each task's box touches (scaled by `f`, padded by `pad`,
 * clipped to the grid's bounds), summed: per axis, then multiplied, as the tasks tile a product of
 * intervals; `layered`: each z layer of grid cells read on its own (with its padding).
 */
function touched(set: BoxSet, grid: Grid, f: Vec3 = [1, 1, 1], pad: [number, number] = [0, 0], layered = false): number {
  return [0, 1, 2].reduce((product, d) => product * touchedAlong(set, grid, d, f[d], pad, layered && d === 2 ? grid.cell[2] : Infinity), 1);
}

/** touched's sum along one axis: the cells of `grid` each task's interval there touches. */
function touchedAlong(set: BoxSet, grid: Grid, d: number, f = 1, pad: [number, number] = [0, 0], layer = Infinity): number {
  let sum = 0;
  for (const [a0, b0] of intervals(set, d, f, pad, layer)) {
    const a = Math.max(a0, grid.bounds.start[d]),
      b = Math.min(b0, grid.bounds.stop[d]);
    if (b > a) sum += Math.ceil((b - grid.origin[d]) / grid.cell[d]) - Math.floor((a - grid.origin[d]) / grid.cell[d]);
  }
  return sum;
}

/**
 * The cells of `grid` that a box set's tasks' shared face planes touch, each plane grown by `margin`
 * voxels in the plane past the box and the voxel after it (as Skeletonize reads them): per face
 * (axis, side), the tasks whose face there is inside the volume, one cell across, times the cells
 * along the other two axes.
 */
function facePlaneCells(set: BoxSet, grid: Grid, margin: Vec3): number {
  let sum = 0;
  for (let d = 0; d < 3; d++)
    for (const upper of [false, true]) {
      const shared = intervals(set, d).filter(([a, b]) => (upper ? b < grid.bounds.stop[d] : a > grid.bounds.start[d])).length;
      sum += [0, 1, 2].reduce((product, a) => product * (a === d ? shared : touchedAlong(set, grid, a, 1, [margin[a], margin[a] + 1])), 1);
    }
  return sum;
}

/** Voxels of a box set's boxes (grown by its `grow`, clipped to `bounds`), summed. */
const boxVoxels = (set: BoxSet, bounds: Box) => touched(set, { origin: [0, 0, 0], cell: [1, 1, 1], bounds });

/**
 * Reads of `chunks` chunks of a scale as tasks make them: one a chunk object; sharded, one ranged read
 * a chunk plus, for each of the `taskShards` (task, shard) pairs, the shard index and the minishard
 * indices it needs (kept for the task's life).
 */
function chunkReads(scale: Scale, chunks: number, taskShards: number): number {
  if (!scale.sharding) return chunks;
  const minishards = Math.min(2 ** scale.sharding.minishard_bits, chunks / Math.max(1, taskShards));
  return chunks + taskShards * (1 + minishards);
}

/** The grid of a sharded scale's compact shards (null when scattered or unsharded). */
function shardGrid(scale: Scale): Grid | null {
  const unit = scale.sharding && compactShardShape(scale.sharding, gridShape(scale));
  return unit ? { origin: scale.voxel_offset, cell: chunkSize(scale).map((c, d) => c * unit[d]) as Vec3, bounds: scaleBounds(scale) } : null;
}

/** The reads of a scale's chunks by a box set's tasks (each box scaled by `f`, padded by `pad`). */
function setReads(set: BoxSet, scale: Scale, f: Vec3 = [1, 1, 1], pad: [number, number] = [0, 0], layered = false): number {
  const chunks = touched(set, chunkGrid(scale), f, pad, layered);
  const shards = shardGrid(scale);
  // (A task reading layer by layer keeps its shard indices: each (task, shard) pair counts once.)
  return chunkReads(scale, chunks, shards ? touched(set, shards, f, pad) : chunks);
}

/** The reads of Skeletonize's face planes (facePlaneCells; sharded, each plane's shards' indices too). */
function facePlaneReads(set: BoxSet, scale: Scale): number {
  const margin = chunkSize(scale);
  const chunks = facePlaneCells(set, chunkGrid(scale), margin);
  const shards = shardGrid(scale);
  return chunkReads(scale, chunks, shards ? facePlaneCells(set, shards, margin) : chunks);
}

const setSize = (set: TaskSet) => ('list' in set ? set.list.length : 'count' in set ? set.count : cells(set.shape));

const GRAPH_KINDS = new Set(['mean_graph', 'agglomerate_block']);
const SEGMENTATION_KINDS = new Set([
  'watershed',
  'remap',
  'mesh',
  'mesh_manifest',
  'mesh_forge',
  'mesh_gather',
  'mesh_merge',
  'segment_properties',
  'agglomerate_names',
  'agglomerate_mapping',
  'skeletonize',
  'skeleton_gather',
  'skeleton_merge',
]);

export function estimatePlan(plan: Plan, infos: Map<string, Info>, opts: { rates?: Rates; mvxPerCore?: number; density?: GraphDensity } = {}): Estimate {
  const rates = opts.rates ?? DEFAULT_RATES;
  const mvx = opts.mvxPerCore ?? DEFAULT_MVX_PER_CORE;
  const density = opts.density ?? ASSUMED_DENSITY;
  // Ingest writes the mips below the first one a later stage of the plan writes.
  let ingestTop = Infinity;
  for (const stage of plan.stages)
    for (const set of stage.sets) {
      if ('list' in set || (set.template.kind !== 'downsample' && set.template.kind !== 'shard')) continue;
      const info = infos.get(String(set.template.layer_path));
      if (info)
        ingestTop = Math.min(
          ingestTop,
          ...mipsWritten(info, { ...set.template, format: 'format' in set ? set.format : undefined }, String(set.template.kind), 0),
        );
    }
  // A merge task reads every forge task's index and its part of that task's object.
  let forgeTasks = 0;
  let skeletonizeTasks = 0;
  for (const stage of plan.stages)
    for (const set of stage.sets) {
      if ('template' in set && set.template.kind === 'mesh_forge') forgeTasks += setSize(set);
      if ('template' in set && set.template.kind === 'skeletonize') skeletonizeTasks += setSize(set);
    }
  const stages = plan.stages.map((stage): StageEstimate => {
    const e: StageEstimate = { name: stage.name, tasks: stageSize(stage), objects: 0, bytes: 0, reads: 0, writes: 0, voxels: 0, coreHours: 0 };
    for (const set of stage.sets) {
      const first = 'list' in set ? (set.list[0] as unknown as Record<string, unknown>) : { ...set.template, format: 'format' in set ? set.format : undefined };
      const layer = first && layerOf(first);
      const info = layer ? infos.get(layer) : undefined;
      const n = setSize(set);
      const kind = String(first?.kind);
      // Each task reads the infos of the layers it opens (a Shard task copying a layer opens that too).
      const copies = typeof first?.source === 'object' && first.source !== null && 'layer' in first.source;
      e.reads += n * (copies ? 2 : (INFO_READS[kind] ?? 1));
      e.writes += n; // and its completion is recorded
      if (!info || !first) continue;
      if (GRAPH_KINDS.has(kind)) addGraphStage(e, set, n, info, first, density, infos);
      else if (SEGMENTATION_KINDS.has(kind)) addSegmentationSet(e, set, n, info, first, density, { forgeTasks, skeletonizeTasks }, infos);
      else addVolumeSet(e, set, n, info, first, layer!, Number.isFinite(ingestTop) ? ingestTop : info.scales.length, mvx, infos);
    }
    return e;
  });
  const total = stages.reduce(
    (t, s) => ({
      ...t,
      tasks: t.tasks + s.tasks,
      objects: t.objects + s.objects,
      bytes: t.bytes + s.bytes,
      reads: t.reads + s.reads,
      writes: t.writes + s.writes,
      voxels: t.voxels + s.voxels,
      coreHours: t.coreHours + s.coreHours,
    }),
    { name: 'total', tasks: 0, objects: 0, bytes: 0, reads: 0, writes: 0, voxels: 0, coreHours: 0 },
  );
  const cpuHours = total.coreHours;
  const price = {
    writes: (total.writes / 1000) * rates.classA,
    reads: (total.reads / 1000) * rates.classB,
    storageMonth: (total.bytes / 1e9) * rates.storage,
    compute: cpuHours * rates.cpuHour,
    total: 0,
  };
  price.total = price.writes + price.reads + price.storageMonth + price.compute;
  return { stages, total, cpuHours, price, assumptions: assumptionsOf(plan, infos, stages, rates, mvx, density) };
}

/** What the estimate assumed, for the kinds the plan has. */
function assumptionsOf(plan: Plan, infos: Map<string, Info>, stages: StageEstimate[], rates: Rates, mvx: number, density: GraphDensity): string {
  const kinds = new Set(plan.stages.flatMap((st) => st.sets.map((set) => String('list' in set ? set.list[0]?.kind : set.template.kind))));
  if ([...infos.values()].some((i) => i.type === 'segmentation')) {
    if (kinds.has('ingest') || kinds.has('shard')) kinds.add('segmentation');
    if (kinds.has('downsample') || kinds.has('shard')) kinds.add('segmentation_downsample');
  }
  const speeds = Object.entries(MVX_PER_CORE).filter(([k]) => kinds.has(k));
  const graphs = stages.some((s) => s.edges !== undefined)
    ? `; region graph ${density.edgesPerVoxel.toPrecision(3)} edges a voxel, ${Math.round(density.voxelsPerRegion).toLocaleString('en')} voxels a fragment, ${density.source}; MeanGraph ${MEAN_GRAPH_MVX_PER_CORE} MVx/s, agglomeration ${AGGLOMERATE_US_PER_EDGE} us an edge per core; a block passes up the edges of fragments within one fragment's width of its faces`
    : '';
  const meshKinds = Object.entries(MESH_BYTES_PER_VOXEL).filter(([k]) => kinds.has(k));
  const meshes = meshKinds.length
    ? `; meshes ${meshKinds.map(([k, v]) => `${k} ${v}`).join(', ')} stored bytes a voxel, ${Math.round(density.voxelsPerRegion).toLocaleString('en')} voxels a segment, measured on the demo's cells: they follow the surface (take 0.5x-2x)`
    : '';
  return `stored/raw bytes ${ENCODINGS.map((k) => `${k} ${codecOf(k).compression}`).join(', ')}; ${mvx} MVx/s per core${speeds.length ? ` (${speeds.map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}${graphs}${meshes}; USD ${rates.classA}/1000 writes, ${rates.classB}/1000 reads, ${rates.storage}/GB-month, ${rates.cpuHour}/vCPU-hour`;
}

/**
 * Ingest, downsample, shard and transfer: the objects of each mip written (chunks or shards), their
 * bytes, and what the tasks read as they read it: build chunks, or the chunks (and shard indices) of
 * the mip below the lowest mip written, or of the source layer.
 */
function addVolumeSet(
  e: StageEstimate,
  set: TaskSet,
  n: number,
  info: Info,
  first: Record<string, unknown>,
  layer: string,
  ingestTop: number,
  mvx: number,
  infos: Map<string, Info>,
): void {
  const kind = String(first.kind);
  const mips = mipsWritten(info, first, kind, ingestTop);
  const vb = voxelBytes(info);
  let voxels = 0;
  for (const mip of mips) {
    const scale = info.scales[mip];
    const objects = objectsOf(scale, layer);
    e.objects += objects;
    e.writes += objects;
    e.bytes += cells(scale.size) * vb * codecOf(scale.encoding).compression;
    voxels += cells(scale.size);
  }
  const boxes = 'format' in set ? set : undefined;
  const source = first.source as Record<string, unknown> | string | undefined;
  // A lab file's reads (ingest with a source, or a shard from one) depend on its layout: one a task is counted.
  if (kind === 'ingest' || (typeof source === 'object' && 'format' in source)) e.reads += n;
  else if (kind === 'shard' && typeof source === 'object' && 'build' in source) {
    const bounds = scaleBounds(info.scales[0]);
    e.reads += boxes ? touched(boxes, { origin: bounds.start, cell: source.build_size as Vec3, bounds }) : cells(gridShape(info.scales[0]));
  } else if (mips.length > 0 && (kind === 'transfer' || kind === 'shard' || mips[0] > 0)) {
    // The mip below (downsampling, as downsample tasks and shard tasks of source "downsample" do), or
    // the same mip of another layer (as its info says, else assumed stored as this one).
    const fromBelow = kind === 'downsample' || source === 'downsample';
    const low = fromBelow ? mips[0] - 1 : mips[0];
    const other =
      typeof source === 'object' && 'layer' in source
        ? infos.get(String(source.layer))
        : kind === 'transfer'
          ? infos.get(String(first.source_path))
          : undefined;
    const below = (other ?? info).scales[low];
    const f = factorBetween(info, low, mips[mips.length - 1]);
    e.reads += boxes ? setReads(boxes, below, f) : chunkReads(below, cells(gridShape(below)), cells(gridShape(below)));
    if (fromBelow) voxels += cells(below.size);
  }
  e.voxels += voxels;
  const speed =
    info.type !== 'segmentation' ? mvx : kind === 'downsample' || source === 'downsample' ? MVX_PER_CORE.segmentation_downsample : MVX_PER_CORE.segmentation;
  e.coreHours += voxels / (speed * 1e6) / 3600;
}

/**
 * The other segmentation kinds, from their boxes and the layer's geometry: chunks read (a watershed's
 * grown box, a mesh's box and the voxel past it) and written, core time from MVX_PER_CORE, and meshes'
 * objects and bytes from the segment size and MESH_BYTES_PER_VOXEL.
 */
/** The gather blocks of a gathered mesh or skeleton plan: boxes of forge_block (or block) x gather_block chunks a side. */
const gatherBlocks = (info: Info, task: Record<string, unknown>) =>
  gridShape(info.scales[0]).reduce((n, g) => n * Math.ceil(g / (Number(task.forge_block ?? task.block) * Number(task.gather_block))), 1);

function addSegmentationSet(
  e: StageEstimate,
  set: TaskSet,
  n: number,
  info: Info,
  first: Record<string, unknown>,
  density: GraphDensity,
  { forgeTasks, skeletonizeTasks }: { forgeTasks: number; skeletonizeTasks: number },
  infos: Map<string, Info>,
): void {
  const kind = String(first.kind);
  const scale = info.scales[0];
  const voxels = cells(scale.size);
  const chunks = cells(gridShape(scale));
  const boxes = 'format' in set ? set : undefined;
  const segments = voxels / density.voxelsPerRegion;
  const fragments = regionsListed(voxels, chunkSize(scale), density);
  const compute = (v: number) => {
    e.voxels += v;
    e.coreHours += v / (MVX_PER_CORE[kind] * 1e6) / 3600;
  };
  const write = (objects: number, bytes: number) => {
    e.objects += objects;
    e.writes += objects;
    e.bytes += bytes;
  };
  const labels = voxels * BYTES_PER_VOXEL[info.data_type] * codecOf(scale.encoding).compression;
  // The affinities, as their info says, else on the watershed's grid and unsharded.
  const affinities = infos.get(String(first.layer_path_affinities));
  const plain = { ...scale, sharding: undefined };
  switch (kind) {
    case 'watershed': // the affinities of its grown box (on the watershed's chunk grid)
      e.reads += boxes ? setReads(boxes, affinities?.scales[0] ?? plain) : chunks;
      compute(boxes ? boxVoxels(boxes, scaleBounds(scale)) : voxels);
      return write(objectsOf(scale, String(first.layer_path_segmentation)), labels);
    case 'remap': {
      // The watershed's chunks, and each chunk's mapping value (a ranged read; the mapping shard's indices a task).
      const watershed = infos.get(String(first.layer_path_segmentation))?.scales[0] ?? scale;
      e.reads += (boxes ? setReads(boxes, watershed) : chunks) + chunks + 2 * n;
      compute(voxels);
      return write(objectsOf(scale, String(first.layer_path)), labels);
    }
    case 'mesh': // its box and the voxel past it (a marching cube spans two)
      e.reads += boxes ? setReads(boxes, scale, [1, 1, 1], [0, 1]) : chunks;
      compute(voxels);
      return write(fragments, voxels * MESH_BYTES_PER_VOXEL.mesh);
    case 'mesh_forge': // and where each group range starts, when gathered
      e.reads += boxes ? setReads(boxes, scale, [1, 1, 1], [0, 1]) : chunks;
      compute(voxels);
      return write((first.gather_groups ? 3 : 2) * n, voxels * MESH_BYTES_PER_VOXEL.mesh_forge);
    case 'mesh_gather': // each forge object of its block: two range-table entries, then its range's bytes
      e.reads += 2 * forgeTasks * (n / Math.max(1, gatherBlocks(info, first)));
      compute(voxels);
      return write(2 * n, voxels * MESH_BYTES_PER_VOXEL.mesh_forge);
    case 'mesh_manifest': // lists the fragments (a page a thousand), writes a manifest a segment
      e.writes += Math.ceil(fragments / 1000);
      return write(segments, 0);
    case 'mesh_merge': // every forge (or gather) object's index (entry) and its part of that object; a shard and a sizes file a task, or unsharded two objects a segment
      e.reads += 2 * n * (first.gather_block ? gatherBlocks(info, first) : forgeTasks);
      compute(voxels);
      return write(first.batches === undefined ? 2 * n : 2 * segments + n, voxels * MESH_BYTES_PER_VOXEL.mesh_merge);
    case 'skeletonize': // its box and the voxel past it at the upper faces, then each shared face's plane grown by a chunk; a pieces and an index object
      e.reads += boxes ? setReads(boxes, scale, [1, 1, 1], [0, 1]) + facePlaneReads(boxes, scale) : chunks;
      compute(voxels);
      return write((first.gather_groups ? 3 : 2) * n, voxels * SKELETON_BYTES_PER_VOXEL.skeletonize);
    case 'skeleton_gather': // each Skeletonize object of its block: two range-table entries, then its range's bytes
      e.reads += 2 * skeletonizeTasks * (n / Math.max(1, gatherBlocks(info, first)));
      compute(voxels);
      return write(2 * n, voxels * SKELETON_BYTES_PER_VOXEL.skeletonize);
    case 'skeleton_merge': // every Skeletonize (or gather) object's index (entry) and its group's part; a shard a task, or unsharded a skeleton a segment
      e.reads += 2 * n * (first.gather_block ? gatherBlocks(info, first) : skeletonizeTasks);
      compute(voxels);
      return write(first.batches === undefined ? n : segments, voxels * SKELETON_BYTES_PER_VOXEL.skeleton_merge);
    case 'segment_properties':
      e.reads += Number(first.groups ?? 0);
      return write(1, 0);
    case 'agglomerate_names': {
      // A block's names and its final names (none at the root), down to its children's final names.
      const tree = checkTree({ grid: gridShape(scale), leaf: Number(first.block) });
      const level = Number(first.level);
      e.reads += n * (level < rootLevel(tree) ? 2 : 1);
      return write(cells(blockGrid(tree, level - 1)), 0);
    }
    case 'agglomerate_mapping': {
      // The mapping's info, and each level 0 block's names and final names; a mapping shard a task.
      const tree = checkTree({ grid: gridShape(scale), leaf: Number(first.block) });
      e.reads += n + 2 * cells(blockGrid(tree, 0));
      return write(n, fragments * 16);
    }
  }
}

/** Objects (chunk files or shard files) of one scale. */
function objectsOf(scale: Scale, layerPath: string): number {
  if (!scale.sharding) return cells(gridShape(scale));
  // Compact shards tile the grid in blocks; scattered ones are counted by hashing.
  const unit = compactShardShape(scale.sharding, gridShape(scale));
  if (unit) return cells(gridShape(scale).map((g, d) => Math.ceil(g / unit[d])));
  return new ShardedScale(openStore(layerPath), scale.key, scale.sharding, gridShape(scale)).shards().length;
}

/** The mips a volume stage writes, from its tasks' kind and fields (a stage writes a contiguous run of mips). */
function mipsWritten(info: Info, template: Record<string, unknown>, kind: string, ingestTop: number): number[] {
  if (kind === 'ingest') return Array.from({ length: Math.min(ingestTop, (template.mips as number | undefined) ?? Infinity, info.scales.length) }, (_, i) => i);
  if (kind === 'transfer') return [template.mip as number];
  if (kind === 'shard') return Array.from({ length: (template.mips as number | undefined) ?? 1 }, (_, i) => (template.mip as number) + i);
  if (kind === 'downsample') {
    const format = String(template.format ?? template.chunk_path ?? '');
    const key = format.slice(0, format.lastIndexOf('/'));
    const top = info.scales.findIndex((s) => s.key === key);
    const mips = (template.mips as number | undefined) ?? 1;
    return Array.from({ length: mips }, (_, i) => top - mips + 1 + i);
  }
  return [];
}

/** The layer a task works on: its layer_path, or the watershed of a region-graph task. */
export function layerOf(task: Record<string, unknown>): string | undefined {
  return (task.layer_path ?? task.layer_path_segmentation) as string | undefined;
}

/**
 * A region-graph stage: MeanGraph, or one level of AgglomerateBlock (its `level` and `block`).
 * MeanGraph writes a graph a chunk and reads, one z layer of its chunks at a time, both layers' chunks
 * of that layer and the plane below it; a block level reads its chunks' graphs (level 0) or its
 * children's block graphs, and writes its graph and names (the root its names only).
 */
function addGraphStage(
  e: StageEstimate,
  set: TaskSet,
  tasks: number,
  info: Info,
  task: Record<string, unknown>,
  density: GraphDensity,
  infos: Map<string, Info>,
): void {
  const g: GraphStageEstimate =
    task.kind === 'mean_graph' ? meanGraphEstimate(info, density) : agglomerateLevelEstimate(info, Number(task.block), Number(task.level), density);
  e.edges = (e.edges ?? 0) + g.edges;
  e.edgesPerTask = Math.max(e.edgesPerTask ?? 0, g.edgesPerTask);
  const scale = info.scales[0];
  const chunks = cells(gridShape(scale));
  if (task.kind === 'mean_graph') {
    e.objects += chunks;
    e.writes += chunks;
    // Both layers (the affinities as their info says, else as the watershed but unsharded).
    const affinities = infos.get(String(task.layer_path_affinities))?.scales[0] ?? { ...scale, sharding: undefined };
    e.reads += 'format' in set ? setReads(set, scale, [1, 1, 1], [1, 0], true) + setReads(set, affinities, [1, 1, 1], [1, 0], true) : 2 * chunks;
  } else {
    const tree = checkTree({ grid: gridShape(scale), leaf: Number(task.block) });
    const level = Number(task.level);
    const objects = level === rootLevel(tree) ? tasks : 2 * tasks;
    e.objects += objects;
    e.writes += objects;
    e.reads += level === 0 ? chunks : cells(blockGrid(tree, level - 1));
  }
  e.bytes += g.bytesWritten;
  e.coreHours += g.coreHours;
}

export function formatEstimate(e: Estimate): string {
  const n = (x: number) => Math.round(x).toLocaleString('en');
  const tb = (b: number) => `${(b / 1e12).toFixed(2)} TB`;
  const graphs = e.stages.some((s) => s.edges !== undefined);
  const edges = (s: StageEstimate) =>
    graphs ? ` | ${s.edges === undefined ? '' : n(s.edges)} | ${s.edgesPerTask === undefined ? '' : n(s.edgesPerTask)}` : '';
  const lines = [
    `stage | tasks | objects written | stored | reads | writes | core-hours${graphs ? ' | edges read | edges, largest task' : ''}`,
    `--- | --- | --- | --- | --- | --- | ---${graphs ? ' | --- | ---' : ''}`,
  ];
  for (const s of [...e.stages, e.total])
    lines.push(`${s.name} | ${n(s.tasks)} | ${n(s.objects)} | ${tb(s.bytes)} | ${n(s.reads)} | ${n(s.writes)} | ${s.coreHours.toFixed(1)}${edges(s)}`);
  lines.push('', `CPU: ${e.cpuHours.toFixed(0)} core-hours for ${(e.total.voxels / 1e12).toFixed(2)} Tvx processed`);
  lines.push(
    `Price (USD): writes ${e.price.writes.toFixed(2)}, reads ${e.price.reads.toFixed(2)}, storage ${e.price.storageMonth.toFixed(2)} per month, compute ${e.price.compute.toFixed(2)}; total ${e.price.total.toFixed(2)} (one month stored)`,
  );
  lines.push(`Assumed: ${e.assumptions}`);
  return lines.join('\n');
}
