// Shard: writes one whole shard of a sharded scale, filled from a source (tasks/sources.ts): build
// chunks (mip 0), the mip below (downsampled), or another layer (transfer). A compact shard (one
// aligned block of chunks) is read as one region; a scattered one (murmurhash) chunk by chunk.
import { InvalidInput } from '../common/errors.js';
import { integer } from '../common/schema.js';
import * as v from 'valibot';
import { Box, box, equals, parseChunkKey, Vec3, voxelCount } from '../common/box.js';
import { assertChunkUnion, chunkBox } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
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
  /** the region of one compact shard (an aligned block of chunks, clipped at the bounds). */
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
  const scale = volume.scale(task.mip);
  const number = shardNumber(volume, task);
  const cells = sharded.cellsOf(number);
  // A shard number may name no chunk (murmurhash spreads chunks over every number, but not always).
  if (cells.length === 0) return { kind: 'shard', voxels: 0, chunksWritten: 0, files: 0 };
  const chunks = cells.map((g) => chunkBox(scale, g));
  const source = new RegionSource(volume, task.source, LABEL, ctx.open);
  const encoded: Uint8Array[] = [];
  if (sharded.compactShape) {
    const region = boundingBox(chunks);
    encoded.push(...volume.encodeChunks(task.mip, chunks, await source.read(task.mip, region), region));
  } else {
    for (const chunk of chunks) encoded.push(...volume.encodeChunks(task.mip, [chunk], await source.read(task.mip, chunk), chunk));
  }
  await volume.writeEncoded(task.mip, chunks, encoded);
  return { kind: 'shard', voxels: chunks.reduce((n, c) => n + voxelCount(c), 0), chunksWritten: chunks.length, files: 1 };
}

/** The task's shard: its number, or the compact shard whose region it names (checked to be exactly that). */
function shardNumber(volume: Volume, task: ShardTask): number {
  if ((task.shard === undefined) === (task.chunk_position === undefined))
    throw new InvalidInput(`${LABEL}: give shard or chunk_position, not ${task.shard === undefined ? 'neither' : 'both'}`);
  if (task.shard !== undefined) return task.shard;
  const sharded = volume.shardedScale(task.mip)!;
  const region = parseChunkKey(task.chunk_position!, `${LABEL}: chunk_position`);
  assertChunkUnion(volume.scale(task.mip), region, `${LABEL}: chunk_position`);
  const number = sharded.shardOf(volume.gridCell(task.mip, region));
  const own = boundingBox(sharded.cellsOf(number).map((g) => chunkBox(volume.scale(task.mip), g)));
  if (!sharded.compactShape || !equals(own, region))
    throw new InvalidInput(`${LABEL}: chunk_position ${task.chunk_position} is not the region of one shard of mip ${task.mip}`);
  return number;
}

function boundingBox(boxes: Box[]): Box {
  const start = [0, 1, 2].map((i) => Math.min(...boxes.map((b) => b.start[i]))) as Vec3;
  const stop = [0, 1, 2].map((i) => Math.max(...boxes.map((b) => b.stop[i]))) as Vec3;
  return box(start, stop);
}
