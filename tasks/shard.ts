// Shard: writes whole shards of a sharded scale, filled from a source (tasks/shard-sources.ts): build
// chunks (mip 0), the mip below (downsampled), or another layer (transfer). Compact shards (aligned
// blocks of chunks) are streamed in z slabs, a scattered one (murmurhash) chunk by chunk; either way
// the task holds its slab and the shards' chunks as stored, not the shards' voxels. With `mips`, a
// region of compact shards also makes the shards it completes at the mips above from the voxels it
// holds (as Ingest does unsharded): a sharded ingest reads mip 0 once.
import { InvalidInput } from '../common/errors.js';
import { integer } from '../common/schema.js';
import * as v from 'valibot';
import { Box, chunkKey, equals, formatBox, parseChunkKey, union, Vec3, voxelCount } from '../common/box.js';
import { completedRegion, downsampleSlabs, regionsDown, SLAB_BYTES, slabsOf } from './pyramid.js';
import { writeLevels } from './downsample.js';
import { assertChunkUnion, chunkBox, chunkSize, chunksWithin, Info, voxelBytes } from '../precomputed/info.js';
import { ShardedScale } from '../precomputed/sharded-scale.js';
import { SlabWriter, Volume } from '../precomputed/volume.js';
import { boxKey, text } from './fields.js';
import { defineTask, TaskOf } from './kind.js';
import { RegionSource, sourceSchema } from './shard-sources.js';
import type { TaskContext } from './context.js';

const LABEL = 'Shard task';

const fields = {
  layer_path: text,
  mip: integer(0, 63),
  /** The shard number (the `<hex>.shard` file's number); or: */
  shard: v.optional(integer(0, Number.MAX_SAFE_INTEGER)),
  /** the region of one or more whole compact shards (aligned blocks of chunks, clipped at the bounds). */
  chunk_position: v.optional(boxKey),
  source: sourceSchema,
  /**
   * How many mips it writes, `mip` and those above it (default 1): chunk_position must then be the
   * region, at `mip`, of whole shards of the top one, and is whole shards at every mip between.
   */
  mips: v.optional(integer(1, 32)),
};
export const shard = defineTask('shard', LABEL, fields, {
  id: (task) => `shard:${task.layer_path}:${task.mip}:${task.shard ?? task.chunk_position}${(task.mips ?? 1) > 1 ? `:${task.mips}` : ''}`,
  run: runShard,
});
export type ShardTask = TaskOf<'shard', typeof fields>;

async function runShard(task: ShardTask, ctx: TaskContext) {
  const volume = await ctx.open(task.layer_path);
  const sharded = volume.shardedScale(task.mip);
  if (!sharded) throw new InvalidInput(`${LABEL}: mip ${task.mip} of ${task.layer_path} is not sharded`);
  const { shards, region, cells } = taskShards(volume, sharded, task);
  const source = new RegionSource(volume, task.source, LABEL, ctx.open);
  if ((task.mips ?? 1) > 1) return runShardLevels(volume, task, source, region!, shards);
  const writer = volume.slabWriter(task.mip);
  try {
    const { voxels, written } = await fillShards(volume, task, source, writer, region, cells);
    await source.close();
    await writer.finish();
    return { kind: 'shard', voxels, chunksWritten: written, files: shards };
  } finally {
    await writer.release();
  }
}

/**
 * `mips` > 1: the region's shards at `mip` and, from the same slabs, the shards of each mip above
 * (writeLevels, as a multi-mip Downsample task streams): each source voxel read once.
 */
async function runShardLevels(volume: Volume, task: ShardTask, source: RegionSource, region: Box, shards: number) {
  const regions = shardLevelRegions(volume, task.mip, task.mips!, region, `${LABEL}: chunk_position ${task.chunk_position} with mips ${task.mips}`);
  const top = task.mip + regions.length - 1;
  const owned = regions.map((r, j) => new Set(chunksWithin(volume.scale(task.mip + j), r).map(chunkKey)));
  const writers = regions.map((_, j) => volume.slabWriter(task.mip + j));
  try {
    const slabs = downsampleSlabs(volume.info, top, regions.length - 1, regions[regions.length - 1], SLAB_BYTES, true);
    const read = (slab: Box) => {
      source.keepBuildChunksFor(slab);
      return source.read(task.mip, slab);
    };
    const written = await writeLevels(volume, task.mip, slabs, owned, writers, read, LABEL);
    await source.close();
    for (const writer of writers) await writer.finish();
    return { kind: 'shard', voxels: voxelCount(region), chunksWritten: written, files: shards };
  } finally {
    await Promise.all(writers.map((w) => w.release()));
  }
}

/**
 * The regions a Shard task writing `mips` mips from `mip` fills: `region` (at `mip`) and what it
 * completes at each mip above, each of whole compact shards, and `region` all the children of the top
 * one (so that no shard is left partly made); refused otherwise, naming `what`.
 */
export function shardLevelRegions(volume: Volume, mip: number, mips: number, region: Box, what: string): Box[] {
  const { info } = volume;
  if (mip + mips > info.scales.length) throw new InvalidInput(`${what}: the layer has ${info.scales.length} mips`);
  const regions = [region];
  for (let j = 1; j < mips; j++) regions.push(completedRegion(info, mip + j, regions[j - 1]));
  if (!equals(regionsDown(info, mip + mips - 1, mips - 1, regions[mips - 1])[0], region))
    throw new InvalidInput(`${what}: is not the region of whole chunks of mip ${mip + mips - 1}`);
  for (const [j, r] of regions.entries()) {
    const chunks = chunksWithin(volume.scale(mip + j), r);
    if (!volume.shardedScale(mip + j)?.compactShape || volume.writableWithin(mip + j, r).length !== chunks.length)
      throw new InvalidInput(`${what}: its region ${formatBox(r)} at mip ${mip + j} is not whole compact shards`);
  }
  return regions;
}

/** The task's shards given to `writer`: a compact region slab by slab, scattered cells chunk by chunk. */
async function fillShards(volume: Volume, task: ShardTask, source: RegionSource, writer: SlabWriter, region: Box | undefined, cells: Vec3[]) {
  const scale = volume.scale(task.mip);
  let voxels = 0,
    written = 0;
  if (region) {
    // Compact shards: their region streamed in z slabs, each build chunk or source chunk read once.
    const build = typeof task.source === 'object' && 'build' in task.source ? task.source.build_size : undefined;
    for (const slab of shardSlabs(volume.info, task.mip, region, build)) {
      const chunks = chunksWithin(scale, slab);
      source.keepBuildChunksFor(slab);
      await writer.add(chunks, await source.read(task.mip, slab), slab);
      written += chunks.length;
      voxels += voxelCount(slab);
    }
  } else {
    // Scattered: chunk by chunk (in Morton order, which the source's few cached build chunks serve).
    for (const g of cells) {
      const chunk = chunkBox(scale, g);
      await writer.add([chunk], await source.read(task.mip, chunk), chunk);
      written++;
      voxels += voxelCount(chunk);
    }
  }
  return { voxels, written };
}

/**
 * The task's shards: one by number (a compact one as its region, a scattered one as its cells), or
 * the compact shards making up `chunk_position` exactly (a region of whole shards, checked).
 */
function taskShards(volume: Volume, sharded: ShardedScale, task: ShardTask): { shards: number; region?: Box; cells: Vec3[] } {
  if ((task.shard === undefined) === (task.chunk_position === undefined))
    throw new InvalidInput(`${LABEL}: give shard or chunk_position, not ${task.shard === undefined ? 'neither' : 'both'}`);
  if (task.shard !== undefined && (task.mips ?? 1) > 1)
    throw new InvalidInput(`${LABEL}: mips above 1 needs chunk_position (a region of whole shards), not shard`);
  const scale = volume.scale(task.mip);
  if (task.shard !== undefined) {
    const cells = sharded.cellsOf(task.shard);
    // A shard number may name no chunk (murmurhash spreads chunks over every number, but not always).
    if (cells.length === 0) return { shards: 0, cells };
    return sharded.compactShape ? { shards: 1, region: union(cells.map((g) => chunkBox(scale, g))), cells } : { shards: 1, cells };
  }
  const region = parseChunkKey(task.chunk_position!, `${LABEL}: chunk_position`);
  assertChunkUnion(scale, region, `${LABEL}: chunk_position`);
  const counts = new Map<number, number>();
  for (const chunk of chunksWithin(scale, region)) {
    const shard = sharded.shardOf(volume.gridCell(task.mip, chunk));
    counts.set(shard, (counts.get(shard) ?? 0) + 1);
  }
  if (!sharded.compactShape || [...counts].some(([shard, n]) => n !== sharded.cellsOf(shard).length))
    throw new InvalidInput(`${LABEL}: chunk_position ${task.chunk_position} is not a region of whole shards of mip ${task.mip}`);
  return { shards: counts.size, region, cells: [] };
}

/**
 * The slabs a Shard task streams a region of compact shards of `mip` in (slabsOf, at most SLAB_BYTES
 * of voxels): units of whole build chunks where they stack on the chunk grid (each read once), else
 * of whole chunks. The planner sizes the task by the same cut.
 */
export function shardSlabs(info: Info, mip: number, region: Box, build: Vec3 | undefined): Box[] {
  const scale = info.scales[mip];
  const unit = chunkSize(scale).map((c, d) => (build && build[d] % c === 0 ? build[d] : c)) as Vec3;
  return slabsOf(region, scale.voxel_offset, unit, SLAB_BYTES, (b) => voxelCount(b) * voxelBytes(info));
}
