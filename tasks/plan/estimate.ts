// What a plan will cost, before anything runs: tasks, objects written, bytes stored, storage
// operations, CPU-hours from measured speeds, and their price at given rates. Volume stages are
// costed from the layer's scales (which mips each stage writes, chunk and shard counts); other stages
// count their tasks. Compression ratios and speeds are assumptions, printed with the estimate.
import { codecOf, ENCODINGS } from '../../codecs/registry.js';
import { BYTES_PER_VOXEL } from '../../common/dtype.js';
import { chunkSize, gridShape, Info, Scale } from '../../precomputed/info.js';
import { ShardedScale } from '../../precomputed/sharded-scale.js';
import { openStore } from '../../storage/open.js';
import { Plan, stageSize } from './format.js';

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

export function estimatePlan(plan: Plan, infos: Map<string, Info>, opts: { rates?: Rates; mvxPerCore?: number } = {}): Estimate {
  const rates = opts.rates ?? DEFAULT_RATES;
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
    const e: StageEstimate = { name: stage.name, tasks: stageSize(stage), objects: 0, bytes: 0, reads: 0, writes: 0, voxels: 0 };
    for (const set of stage.sets) {
      const first = 'list' in set ? (set.list[0] as unknown as Record<string, unknown>) : { ...set.template, format: 'format' in set ? set.format : undefined };
      const layer = first && (first.layer_path as string | undefined);
      const info = layer ? infos.get(layer) : undefined;
      const n = 'list' in set ? set.list.length : 'count' in set ? set.count : cells(set.shape);
      e.reads += n; // each task reads the layer's info
      e.writes += n; // and its completion is recorded
      if (!info || !first) continue;
      const kind = String(first.kind);
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
    }),
    { name: 'total', tasks: 0, objects: 0, bytes: 0, reads: 0, writes: 0, voxels: 0 },
  );
  const mvx = opts.mvxPerCore ?? DEFAULT_MVX_PER_CORE;
  const cpuHours = total.voxels / (mvx * 1e6) / 3600;
  const price = {
    writes: (total.writes / 1000) * rates.classA,
    reads: (total.reads / 1000) * rates.classB,
    storageMonth: (total.bytes / 1e9) * rates.storage,
    compute: cpuHours * rates.cpuHour,
    total: 0,
  };
  price.total = price.writes + price.reads + price.storageMonth + price.compute;
  const assumptions = `stored/raw bytes ${ENCODINGS.map((k) => `${k} ${codecOf(k).compression}`).join(', ')}; ${mvx} MVx/s per core; USD ${rates.classA}/1000 writes, ${rates.classB}/1000 reads, ${rates.storage}/GB-month, ${rates.cpuHour}/vCPU-hour`;
  return { stages, total, cpuHours, price, assumptions };
}

export function formatEstimate(e: Estimate): string {
  const n = (x: number) => Math.round(x).toLocaleString('en');
  const tb = (b: number) => `${(b / 1e12).toFixed(2)} TB`;
  const lines = ['stage | tasks | objects written | stored | reads | writes', '--- | --- | --- | --- | --- | ---'];
  for (const s of [...e.stages, e.total]) lines.push(`${s.name} | ${n(s.tasks)} | ${n(s.objects)} | ${tb(s.bytes)} | ${n(s.reads)} | ${n(s.writes)}`);
  lines.push('', `CPU: ${e.cpuHours.toFixed(0)} core-hours for ${(e.total.voxels / 1e12).toFixed(2)} Tvx processed`);
  lines.push(
    `Price (USD): writes ${e.price.writes.toFixed(2)}, reads ${e.price.reads.toFixed(2)}, storage ${e.price.storageMonth.toFixed(2)} per month, compute ${e.price.compute.toFixed(2)}; total ${e.price.total.toFixed(2)} (one month stored)`,
  );
  lines.push(`Assumed: ${e.assumptions}`);
  return lines.join('\n');
}
