// Which chunks of each mip a box of mip-0 data completes: shared by the Ingest task and the planner,
// so the plan and the work agree on who writes what.
import { box, Box, intersect, isEmpty, Vec3 } from '../common/box.js';
import { chunksWithin, downsampleFactor, Info, scaleBounds } from '../precomputed/info.js';

/**
 * The voxels of mip `mip` all of whose existing children (at mip - 1) lie inside `region`.
 * At the volume border, children outside the bounds do not exist and so do not count as missing.
 */
export function completedRegion(info: Info, mip: number, region: Box): Box {
  const f = downsampleFactor(info, mip);
  const bounds = scaleBounds(info.scales[mip - 1]);
  const start = region.start.map((s, i) => (s === bounds.start[i] ? Math.floor(s / f[i]) : Math.ceil(s / f[i]))) as Vec3;
  const stop = region.stop.map((s, i) => (s === bounds.stop[i] ? Math.ceil(s / f[i]) : Math.floor(s / f[i]))) as Vec3;
  return { start, stop };
}

/**
 * For each mip from 0 up: the completed region and the chunks wholly inside it; stops at the first
 * mip with none, or at a sharded mip (its shards are written whole, by Shard tasks).
 */
export function pyramidFrom(info: Info, buildBox: Box): { mip: number; region: Box; chunks: Box[] }[] {
  const levels = [{ mip: 0, region: buildBox, chunks: chunksWithin(info.scales[0], buildBox) }];
  for (let mip = 1; mip < info.scales.length; mip++) {
    if (info.scales[mip].sharding) break;
    const region = completedRegion(info, mip, levels[mip - 1].region);
    if (isEmpty(region)) break;
    const chunks = chunksWithin(info.scales[mip], region);
    if (chunks.length === 0) break;
    levels.push({ mip, region, chunks });
  }
  return levels;
}

/** The children of `region` (a box of mip `mip`) at mip - 1: the region times the factor, within the bounds. */
export function childrenRegion(info: Info, mip: number, region: Box): Box {
  const f = downsampleFactor(info, mip);
  return intersect(box(region.start.map((s, i) => s * f[i]) as Vec3, region.stop.map((s, i) => s * f[i]) as Vec3), scaleBounds(info.scales[mip - 1]));
}
