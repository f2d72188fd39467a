// Transfer: copies whole chunks of one mip from another layer (sharded or not) into an unsharded
// layer with the same scales; the chunks are decoded and encoded again, so the two layers may differ
// in encoding and chunk size. (Into a sharded layer, Shard tasks with a layer source do this.)
import { InvalidInput } from '../common/errors.js';
import { integer } from '../common/schema.js';
import { parseChunkKey, voxelCount } from '../common/box.js';
import { assertChunkUnion, chunksWithin } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { boxKey, text } from './fields.js';
import { defineTask, TaskOf } from './kind.js';
import { RegionSource } from './shard-sources.js';
import type { TaskContext } from './context.js';

const LABEL = 'Transfer task';

const fields = {
  /** The layer to write (unsharded at this mip). */
  layer_path: text,
  /** The layer to read, with the same scales. */
  source_path: text,
  mip: integer(0, 63),
  /** Whole chunks of the destination at this mip. */
  chunk_position: boxKey,
};
export const transfer = defineTask('transfer', LABEL, fields, {
  id: (task) => `transfer:${task.layer_path}:${task.mip}:${task.chunk_position}`,
  run: runTransfer,
});
export type TransferTask = TaskOf<'transfer', typeof fields>;

async function runTransfer(task: TransferTask, ctx: TaskContext) {
  const volume = await ctx.open(task.layer_path);
  if (volume.shardedScale(task.mip)) throw new InvalidInput(`${LABEL}: mip ${task.mip} of ${task.layer_path} is sharded: write it with Shard tasks`);
  const region = parseChunkKey(task.chunk_position, `${LABEL}: chunk_position`);
  assertChunkUnion(volume.scale(task.mip), region, `${LABEL}: chunk_position`);
  const data = await new RegionSource(volume, { layer: task.source_path }, LABEL, ctx.open).read(task.mip, region);
  const chunks = chunksWithin(volume.scale(task.mip), region);
  await volume.writeChunks(task.mip, chunks, data, region);
  return { kind: 'transfer', voxels: voxelCount(region), chunksWritten: chunks.length };
}
