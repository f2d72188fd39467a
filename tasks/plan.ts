// Planners: the task list for a layer, as stages that must run in order (a stage reads what earlier ones wrote).
import { Box, chunkKey, formatBox, intersect, isEmpty, parseChunkKey } from '../precomputed/box.js';
import { allChunks, Info, scaleBounds } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { openStore } from '../storage/open.js';
import { joinUrl } from '../storage/store.js';
import { pyramidFrom } from './pyramid.js';
import { DownsampleTask, IngestTask, Task } from './task.js';

export interface Plan {
  layer_path: string;
  stages: Task[][];
}

/** Build chunks under `buildUrl`: files `<box>.npz` / `<box>.raw`, or directories `<box>/` of PNG slices. */
export async function listBuildChunks(buildUrl: string, encoding: IngestTask['chunk_encoding']): Promise<{ path: string; box: Box }[]> {
  const keys = await openStore(buildUrl).list();
  const names = new Set<string>();
  for (const key of keys) {
    if (encoding === 'png') {
      const dir = key.split('/')[0];
      if (key.includes('/') && /^-?\d+--?\d+_-?\d+--?\d+_-?\d+--?\d+$/.test(dir)) names.add(dir);
    } else if (!key.includes('/') && key.endsWith(`.${encoding}`)) names.add(key);
  }
  return [...names].sort().map((name) => ({ path: joinUrl(buildUrl, name), box: parseChunkKey(name, `build chunk ${name}`) }));
}

export async function planIngest(opts: { layerPath: string; buildPath: string; encoding: IngestTask['chunk_encoding']; axes?: 'xyz' | 'zyx' }): Promise<Plan> {
  const { info } = await Volume.open(opts.layerPath);
  const builds = await listBuildChunks(opts.buildPath, opts.encoding);
  if (builds.length === 0) throw new Error(`no .${opts.encoding} build chunks found under ${opts.buildPath}`);
  for (let i = 0; i < builds.length; i++) for (let j = i + 1; j < builds.length; j++) {
    if (!isEmpty(intersect(builds[i].box, builds[j].box))) {
      throw new Error(`build chunks overlap: ${chunkKey(builds[i].box)} and ${chunkKey(builds[j].box)} would write the same chunks`);
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
    throw new Error(`build chunks under ${opts.buildPath} do not cover ${uncovered.length} mip-0 chunk(s), e.g. ${chunkKey(uncovered[0])} (bounds ${formatBox(scaleBounds(info.scales[0]))})`);
  }
  return { layer_path: opts.layerPath, stages: [ingest, ...downsampleStages(info, opts.layerPath, 1, written)] };
}

/** Downsample every chunk of mips fromMip+1 .. top (those not already in `written`). */
export function downsampleStages(info: Info, layerPath: string, firstMip: number, written?: Set<string>[]): DownsampleTask[][] {
  const stages: DownsampleTask[][] = [];
  for (let mip = Math.max(1, firstMip); mip < info.scales.length; mip++) {
    const key = info.scales[mip].key;
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
