// What a plan will cost, before anything runs: tasks, objects written, bytes stored, storage
// operations, CPU-hours from measured speeds, and their price at given rates. Volume stages are
// costed from the layer's scales (which mips each stage writes, chunk and shard counts); other stages
// count their tasks, except the region graph and its agglomeration, costed level by level in edges
// (graph-estimate.ts). Compression ratios, densities and speeds are assumptions, printed with it.
import { codecOf, ENCODINGS } from '../../codecs/registry.js';
import { BYTES_PER_VOXEL } from '../../common/dtype.js';
import { chunkSize, gridShape, Info, Scale } from '../../precomputed/info.js';
import { ShardedScale } from '../../precomputed/sharded-scale.js';
import { openStore } from '../../storage/open.js';
import { Plan, stageSize } from './format.js';
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

/** Objects (chunk files or shard files) of one scale. */
function objectsOf(scale: Scale, layerPath: string): number {
  if (!scale.sharding) return cells(gridShape(scale));
  return new ShardedScale(openStore(layerPath), scale.key, scale.sharding, gridShape(scale)).shards().length;
}

/** The mips a volume stage writes, from its tasks' kind and fields (a stage writes a contiguous run of mips). */
function mipsWritten(info: Info, template: Record<string, unknown>, kind: string, ingestTop: number): number[] {
  if (kind === 'ingest') return Array.from({ length: ingestTop }, (_, i) => i);
  if (kind === 'shard' || kind === 'transfer') return [template.mip as number];
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

const GRAPH_KINDS = new Set(['mean_graph', 'agglomerate_block']);

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
  const stages = plan.stages.map((stage): StageEstimate => {
    const e: StageEstimate = { name: stage.name, tasks: stageSize(stage), objects: 0, bytes: 0, reads: 0, writes: 0, voxels: 0, coreHours: 0 };
    for (const set of stage.sets) {
      const first = 'list' in set ? (set.list[0] as unknown as Record<string, unknown>) : { ...set.template, format: 'format' in set ? set.format : undefined };
      const layer = first && layerOf(first);
      const info = layer ? infos.get(layer) : undefined;
      const n = 'list' in set ? set.list.length : 'count' in set ? set.count : cells(set.shape);
      e.reads += n; // each task reads the layer's info
      e.writes += n; // and its completion is recorded
      if (!info || !first) continue;
      const kind = String(first.kind);
      if (GRAPH_KINDS.has(kind)) {
        addGraphStage(e, n, info, first, density);
        continue;
      }
      if (MESH_KINDS.has(kind)) {
        const objects = meshObjects(kind, n, info, first, density);
        e.objects += objects;
        e.writes += objects;
        continue;
      }
      const mips = mipsWritten(info, first, kind, Number.isFinite(ingestTop) ? ingestTop : info.scales.length);
      const voxelBytes = info.num_channels * BYTES_PER_VOXEL[info.data_type];
      for (const mip of mips) {
        const scale = info.scales[mip];
        const objects = objectsOf(scale, layer!);
        const voxels = cells(scale.size);
        e.objects += objects;
        e.writes += objects;
        e.bytes += voxels * voxelBytes * codecOf(scale.encoding).compression;
        e.voxels += voxels;
      }
      // What the stage reads: the build chunks (one read each) or the mip below its lowest mip.
      if (kind === 'ingest') e.reads += n;
      else if (mips.length > 0 && mips[0] > 0 && kind !== 'transfer') {
        const below = info.scales[mips[0] - 1];
        e.reads += below.sharding ? 2 * cells(gridShape(below)) : cells(gridShape(below));
        e.voxels += cells(below.size);
      } else if (kind === 'transfer' || kind === 'shard') e.reads += mips.reduce((k, mip) => k + cells(gridShape(info.scales[mip])), 0);
    }
    e.coreHours += e.voxels / (mvx * 1e6) / 3600;
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
  const graphs = stages.some((s) => s.edges !== undefined)
    ? `; region graph ${density.edgesPerVoxel.toPrecision(3)} edges a voxel, ${Math.round(density.voxelsPerRegion).toLocaleString('en')} voxels a fragment, ${density.source}; MeanGraph ${MEAN_GRAPH_MVX_PER_CORE} MVx/s, agglomeration ${AGGLOMERATE_US_PER_EDGE} us an edge per core; a block passes up the edges of fragments within one fragment's width of its faces`
    : '';
  const assumptions = `stored/raw bytes ${ENCODINGS.map((k) => `${k} ${codecOf(k).compression}`).join(', ')}; ${mvx} MVx/s per core${graphs}; USD ${rates.classA}/1000 writes, ${rates.classB}/1000 reads, ${rates.storage}/GB-month, ${rates.cpuHour}/vCPU-hour`;
  return { stages, total, cpuHours, price, assumptions };
}

const MESH_KINDS = new Set(['mesh', 'mesh_manifest', 'mesh_forge', 'mesh_merge']);

/**
 * Objects a mesh stage writes, with segments counted as fragments of the assumed (or measured) size:
 * legacy, a fragment per segment per chunk it touches and a manifest per segment; multires, two
 * objects per forge task and a shard per merge task, or two objects per segment unsharded.
 */
function meshObjects(kind: string, tasks: number, info: Info, task: Record<string, unknown>, density: GraphDensity): number {
  const scale = info.scales[0];
  const segments = cells(scale.size) / density.voxelsPerRegion;
  if (kind === 'mesh') return regionsListed(cells(scale.size), chunkSize(scale), density);
  if (kind === 'mesh_manifest') return segments;
  if (kind === 'mesh_forge') return 2 * tasks;
  return task.batches === undefined ? tasks : 2 * segments;
}

/** A region-graph stage: MeanGraph, or one level of AgglomerateBlock (its `level` and `block`). */
function addGraphStage(e: StageEstimate, tasks: number, info: Info, task: Record<string, unknown>, density: GraphDensity): void {
  const g: GraphStageEstimate =
    task.kind === 'mean_graph' ? meanGraphEstimate(info, density) : agglomerateLevelEstimate(info, Number(task.block), Number(task.level), density);
  e.edges = (e.edges ?? 0) + g.edges;
  e.edgesPerTask = Math.max(e.edgesPerTask ?? 0, g.edgesPerTask);
  // MeanGraph writes a graph a chunk and reads each chunk of both layers (tasks cover many chunks);
  // a block level two objects a task and its 8 children's.
  const chunks = cells(gridShape(info.scales[0]));
  e.objects += task.kind === 'mean_graph' ? chunks : 2 * tasks;
  e.writes += task.kind === 'mean_graph' ? chunks : 2 * tasks;
  e.reads += task.kind === 'mean_graph' ? 2 * chunks : 8 * tasks;
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
