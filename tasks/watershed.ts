// Watershed: an affinity box -> segmentation chunks (affinities/watershed.ts), written only inside the
// crop. Labels are unique across tasks: (i << 32) + n, where i is the index (x fastest) of the written
// box's first chunk in the segmentation's chunk grid and n = 1, 2, ... by first voxel in the box.
import { watershed } from '../affinities/watershed.js';
import { contains, copyRegion, formatBox, parseChunkKey, shapeOf, voxelCount } from '../precomputed/box.js';
import { assertChunkUnion, chunksWithin, chunkSize, gridShape } from '../precomputed/info.js';
import { checkAffinityValues, openAffinityLayers } from './affinity-layers.js';
import { TaskResult, WatershedTask } from './task.js';

const LABEL = 'Watershed task';

export async function runWatershed(task: WatershedTask): Promise<TaskResult> {
  if (task.low_threshold > task.high_threshold) throw new Error(`${LABEL}: low_threshold ${task.low_threshold} is above high_threshold ${task.high_threshold}`);
  const { affinities, segmentation } = await openAffinityLayers(task, LABEL);
  if (segmentation.info.data_type !== 'uint64') {
    throw new Error(`${LABEL}: layer_path_segmentation ${segmentation.url} is ${segmentation.info.data_type}; watershed writes uint64 labels (chunk index << 32 + n)`);
  }
  const bounds = affinities.bounds(0);
  const box = parseChunkKey(task.chunk_position, `${LABEL}: chunk_position`);
  if (!contains(bounds, box)) throw new Error(`${LABEL}: chunk_position ${task.chunk_position} is outside the layers' bounds ${formatBox(bounds)}`);
  const crop = task.crop_position === undefined ? box : parseChunkKey(task.crop_position, `${LABEL}: crop_position`);
  if (!contains(box, crop)) throw new Error(`${LABEL}: crop_position ${task.crop_position} is not inside chunk_position ${task.chunk_position}`);
  const scale = segmentation.scale(0);
  assertChunkUnion(scale, crop, `${LABEL}: ${task.crop_position === undefined ? 'chunk_position' : 'crop_position'}`);

  const values = (await affinities.read(0, box)) as Float32Array;
  checkAffinityValues(values, LABEL, `${affinities.url} ${task.chunk_position}`);
  const { labels } = watershed(values, shapeOf(box), {
    high: task.high_threshold, low: task.low_threshold, mergeThreshold: task.merge_threshold, mergeSize: task.merge_size, dustSize: task.dust_size,
  });

  const cropped = new Uint32Array(voxelCount(crop));
  copyRegion(labels, box, cropped, crop, crop);
  const grid = gridShape(scale), c = chunkSize(scale);
  const g = crop.start.map((v, i) => (v - scale.voxel_offset[i]) / c[i]);
  const base = BigInt(g[0] + grid[0] * (g[1] + grid[1] * g[2])) << 32n;
  const out = new BigUint64Array(cropped.length);
  for (let i = 0; i < cropped.length; i++) if (cropped[i]) out[i] = base + BigInt(cropped[i]);
  const chunks = chunksWithin(scale, crop);
  await segmentation.writeChunks(0, chunks, out, crop);
  return { kind: 'watershed', voxels: voxelCount(box), chunksWritten: chunks.length };
}
