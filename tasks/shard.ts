// Shard: writes whole shards of a sharded scale, filled from a source (tasks/shard-sources.ts): build
// chunks (mip 0), the mip below (downsampled), or another layer (transfer). Compact shards (aligned
// blocks of chunks) are streamed in z slabs, a scattered one (murmurhash) chunk by chunk; either way
// the task holds its slab and the shards' chunks as stored, not the shards' voxels.
import { InvalidInput } from '../common/errors.js';
import { integer } from '../common/schema.js';
import * as v from 'valibot';
import { Box, parseChunkKey, union, Vec3, voxelCount } from '../common/box.js';
import { SLAB_BYTES, slabsOf } from './pyramid.js';
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
};
export const shard = defineTask('shard', LABEL, fields, {
  id: (task) => `shard:${task.layer_path}:${task.mip}:${task.shard ?? task.chunk_position}`,
  run: runShard,
});
export type ShardTask = TaskOf<'shard', typeof fields>;

async function runShard(task: ShardTask, ctx: TaskContext) {
  const volume = await ctx.open(task.layer_path);
  const sharded = volume.shardedScale(task.mip);
  if (!sharded) throw new InvalidInput(`${LABEL}: mip ${task.mip} of ${task.layer_path} is not sharded`);
  const { shards, region, cells } = taskShards(volume, sharded, task);
  const source = new RegionSource(volume, task.source, LABEL, ctx.open);
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
      await writer.add(chunks, await source.read(task.mip, slab), slab);
      source.forgetBuildChunks();
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
