// Shard: writes one whole shard of a sharded scale, filled from a source (tasks/sources.ts): build
// chunks (mip 0), the mip below (downsampled), or another layer (transfer). A compact shard (one
// aligned block of chunks) is read as one region; a scattered one (murmurhash) chunk by chunk.
import { InvalidInput } from '../common/errors.js';
import { integer } from '../common/schema.js';
import { Box, box, Vec3, voxelCount } from '../precomputed/box.js';
import { chunkBox } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { text } from './fields.js';
import { defineTask, TaskOf } from './kind.js';
import { RegionSource, sourceSchema } from './sources.js';

const LABEL = 'Shard task';

const fields = {
  layer_path: text,
  mip: integer(0, 63),
  /** The shard number (the `<hex>.shard` file's number). */
  shard: integer(0, Number.MAX_SAFE_INTEGER),
  source: sourceSchema,
};
export const shard = defineTask('shard', LABEL, fields, {
  id: (task) => `shard:${task.layer_path}:${task.mip}:${task.shard}`,
  run: runShard,
});
export type ShardTask = TaskOf<'shard', typeof fields>;

async function runShard(task: ShardTask) {
  const volume = await Volume.open(task.layer_path);
  const sharded = volume.shardedScale(task.mip);
  if (!sharded) throw new InvalidInput(`${LABEL}: mip ${task.mip} of ${task.layer_path} is not sharded`);
  const scale = volume.scale(task.mip);
  const cells = sharded.cellsOf(task.shard);
  if (cells.length === 0) throw new InvalidInput(`${LABEL}: shard ${task.shard} of mip ${task.mip} holds no chunk of the volume`);
  const chunks = cells.map((g) => chunkBox(scale, g));
  const source = new RegionSource(volume, task.source, LABEL);
  const encoded: Uint8Array[] = [];
  if (sharded.compactShape) {
    const region = boundingBox(chunks);
    encoded.push(...volume.encodeChunks(task.mip, chunks, await source.read(task.mip, region), region));
  } else {
    for (const chunk of chunks) encoded.push(...volume.encodeChunks(task.mip, [chunk], await source.read(task.mip, chunk), chunk));
  }
  await volume.writeShards(task.mip, sharded, chunks, encoded);
  return { kind: 'shard', voxels: chunks.reduce((n, c) => n + voxelCount(c), 0), chunksWritten: chunks.length, files: 1 };
}

function boundingBox(boxes: Box[]): Box {
  const start = [0, 1, 2].map((i) => Math.min(...boxes.map((b) => b.start[i]))) as Vec3;
  const stop = [0, 1, 2].map((i) => Math.max(...boxes.map((b) => b.stop[i]))) as Vec3;
  return box(start, stop);
}
