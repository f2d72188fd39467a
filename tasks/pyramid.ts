// Which chunks of each mip a box of mip-0 data completes: shared by the Ingest task and the planner,
// so the plan and the work agree on who writes what.
import { box, Box, intersect, isEmpty, Vec3, voxelCount } from '../common/box.js';
import { chunkSize, chunksWithin, downsampleFactor, Info, scaleBounds, voxelBytes } from '../precomputed/info.js';

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

/**
 * `region` of mip `top` and its children down to mip top - mips: [the region at top - mips, ...,
 * the region at top] (each the children of the next, within the bounds).
 */
export function regionsDown(info: Info, top: number, mips: number, region: Box): Box[] {
  const regions = [region];
  for (let mip = top; mip > top - mips; mip--) regions.unshift(childrenRegion(info, mip, regions[0]));
  return regions;
}

/** The most source bytes a streaming task reads for one slab (unless one unit is more). */
export const SLAB_BYTES = 256 << 20;

/**
 * `region` cut on the grid of `unit` voxels from `origin`: slabs one unit deep in z and the whole
 * region in x and y, halved in y, then in x (in whole units), while a slab is more than `maxBytes`
 * by `bytesOf`. A task streaming its region holds one slab at a time.
 */
export function slabsOf(region: Box, origin: Vec3, unit: Vec3, maxBytes: number, bytesOf: (slab: Box) => number): Box[] {
  const lo = region.start.map((s, d) => Math.floor((s - origin[d]) / unit[d]));
  const hi = region.stop.map((s, d) => Math.ceil((s - origin[d]) / unit[d]));
  const line = (d: number, k: number) => Math.min(region.stop[d], Math.max(region.start[d], origin[d] + k * unit[d]));
  const slabAt = (g: Vec3, n: Vec3) => box([0, 1, 2].map((d) => line(d, g[d])) as Vec3, [0, 1, 2].map((d) => line(d, Math.min(hi[d], g[d] + n[d]))) as Vec3);
  const n: Vec3 = [hi[0] - lo[0], hi[1] - lo[1], 1];
  while (bytesOf(slabAt(lo as Vec3, n)) > maxBytes && (n[0] > 1 || n[1] > 1)) {
    if (n[1] > 1) n[1] = Math.ceil(n[1] / 2);
    else n[0] = Math.ceil(n[0] / 2);
  }
  const slabs: Box[] = [];
  for (let z = lo[2]; z < hi[2]; z++) for (let y = lo[1]; y < hi[1]; y += n[1]) for (let x = lo[0]; x < hi[0]; x += n[0]) slabs.push(slabAt([x, y, z], n));
  return slabs;
}

/**
 * The slabs a Downsample task streams `region` (whole chunks of mip `top`, written with the `mips` - 1
 * mips below it, from mip top - mips) in, each as its regions from the source mip up (as
 * downsampleRegions gives them): slabsOf on the chunk grid of `top`, each slab's source at most
 * maxBytes; one slab, the whole region, unless every slab is whole chunks at each mip written (the
 * source mip too where the task writes it: `writesSource`, a Shard task making the mips above its
 * own), so that the slabs together write each chunk exactly once.
 */
export function downsampleSlabs(info: Info, top: number, mips: number, region: Box, maxBytes = SLAB_BYTES, writesSource = false): Box[][] {
  const regionsOf = (r: Box) => regionsDown(info, top, mips, r);
  const scale = info.scales[top];
  const bytes = voxelBytes(info);
  const slabs = slabsOf(region, scale.voxel_offset, chunkSize(scale), maxBytes, (slab) => voxelCount(regionsOf(slab)[0]) * bytes).map(regionsOf);
  const whole = (mip: number, r: Box) => {
    const s = info.scales[mip];
    const c = chunkSize(s);
    const stop = scaleBounds(s).stop;
    return [0, 1, 2].every((d) => (r.start[d] - s.voxel_offset[d]) % c[d] === 0 && (r.stop[d] === stop[d] || (r.stop[d] - s.voxel_offset[d]) % c[d] === 0));
  };
  const aligned = slabs.every((regions) => regions.every((r, j) => (j === 0 && !writesSource) || whole(top - mips + j, r)));
  return aligned ? slabs : [regionsOf(region)];
}
