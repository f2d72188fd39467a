// Watershed: an affinity box -> segmentation chunks (affinities/watershed.ts), written only inside the
// crop. Labels are unique across tasks: (i << 32) + n, where i is the index (x fastest) of the written
// box's first chunk in the segmentation's chunk grid and n = 1, 2, ... by first voxel in the box.
import { InvalidInput } from '../common/errors.js';
import { watershed } from '../affinities/watershed.js';
import { contains, copyRegion, formatBox, parseChunkKey, shapeOf, voxelCount } from '../common/box.js';
import { assertChunkUnion, chunksWithin, chunkSize, gridShape } from '../precomputed/info.js';
import { checkAffinityValues, openAffinityLayers } from './affinity-layers.js';
import { boxKey, count, text, unit } from './fields.js';
import { defineTask, TaskOf } from './kind.js';
import * as v from 'valibot';
import type { TaskContext } from './context.js';

const LABEL = 'Watershed task';

const fields = {
  /** The box to segment, `x0-x1_y0-y1_z0-z1` in mip-0 voxels of the affinity layer (any box inside it). */
  chunk_position: boxKey,
  /** The box to write, inside chunk_position and made of whole segmentation chunks; default chunk_position. */
  crop_position: v.optional(boxKey),
  /** float32, 3 channels: channel c at voxel v is the edge between v and v - e_c. */
  layer_path_affinities: text,
  /** uint64 segmentation with the affinity layer's mip-0 geometry. */
  layer_path_segmentation: text,
  high_threshold: unit,
  low_threshold: unit,
  merge_threshold: unit,
  merge_size: count,
  dust_size: count,
};
export type WatershedTask = TaskOf<'watershed', typeof fields>;
export type WatershedParamsJson = Pick<WatershedTask, 'high_threshold' | 'low_threshold' | 'merge_threshold' | 'merge_size' | 'dust_size'>;

export const watershedTask = defineTask('watershed', LABEL, fields, {
  id: (task) => `watershed:${task.layer_path_segmentation}:${task.crop_position ?? task.chunk_position}`,
  async inputs(task, open) {
    const v = await open(task.layer_path_affinities);
    return v.chunkObjects(0, parseChunkKey(task.chunk_position));
  },
  run: runWatershed,
});

async function runWatershed(task: WatershedTask, ctx: TaskContext) {
  if (task.low_threshold > task.high_threshold)
    throw new InvalidInput(`${LABEL}: low_threshold ${task.low_threshold} is above high_threshold ${task.high_threshold}`);
  const { affinities, segmentation } = await openAffinityLayers(task, LABEL, ctx.open);
  if (segmentation.info.data_type !== 'uint64') {
    throw new InvalidInput(
      `${LABEL}: layer_path_segmentation ${segmentation.url} is ${segmentation.info.data_type}; watershed writes uint64 labels (chunk index << 32 + n)`,
    );
  }
  const bounds = affinities.bounds(0);
  const box = parseChunkKey(task.chunk_position, `${LABEL}: chunk_position`);
  if (!contains(bounds, box)) throw new InvalidInput(`${LABEL}: chunk_position ${task.chunk_position} is outside the layers' bounds ${formatBox(bounds)}`);
  const crop = task.crop_position === undefined ? box : parseChunkKey(task.crop_position, `${LABEL}: crop_position`);
  if (!contains(box, crop)) throw new InvalidInput(`${LABEL}: crop_position ${task.crop_position} is not inside chunk_position ${task.chunk_position}`);
  const scale = segmentation.scale(0);
  assertChunkUnion(scale, crop, `${LABEL}: ${task.crop_position === undefined ? 'chunk_position' : 'crop_position'}`);

  const values = (await affinities.read(0, box)) as Float32Array;
  checkAffinityValues(values, LABEL, `${affinities.url} ${task.chunk_position}`);
  const { labels } = watershed(values, shapeOf(box), {
    high: task.high_threshold,
    low: task.low_threshold,
    mergeThreshold: task.merge_threshold,
    mergeSize: task.merge_size,
    dustSize: task.dust_size,
  });

  const cropped = new Uint32Array(voxelCount(crop));
  copyRegion(labels, box, cropped, crop, crop);
  const grid = gridShape(scale),
    c = chunkSize(scale);
  const g = crop.start.map((v, i) => (v - scale.voxel_offset[i]) / c[i]);
  const base = BigInt(g[0] + grid[0] * (g[1] + grid[1] * g[2])) << 32n;
  const out = new BigUint64Array(cropped.length);
  for (let i = 0; i < cropped.length; i++) if (cropped[i]) out[i] = base + BigInt(cropped[i]);
  const chunks = chunksWithin(scale, crop);
  await segmentation.writeChunks(0, chunks, out, crop);
  return { kind: 'watershed', voxels: voxelCount(box), chunksWritten: chunks.length };
}
