// Downsample: the (up to 8) child chunks at mip N-1 -> one chunk at mip N.
import { InvalidInput } from '../common/errors.js';
import { downsample as downsampleKernel } from '../kernels/backend.js';
import { downsampledShape } from '../kernels/downsample.js';
import { Box, chunkKey, equals, formatBox, intersect, parseChunkKey, shapeOf, Vec3, voxelCount } from '../precomputed/box.js';
import { assertChunkAligned, downsampleFactor, scaleIndex } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { text } from './fields.js';
import { defineTask, TaskOf } from './kind.js';

const LABEL = 'Downsample task';

const fields = {
  /** The output chunk: `<scale key>/<x0-x1_y0-y1_z0-z1>`, relative to layer_path. */
  chunk_path: text,
  layer_path: text,
};
export const downsample = defineTask('downsample', LABEL, fields, {
  id: (task) => `downsample:${task.layer_path}:${task.chunk_path}`,
  async inputs(task, open) {
    const v = await open(task.layer_path);
    const { mip, children } = downsampleChildren(v, task.chunk_path);
    return v.chunkObjects(mip - 1, children);
  },
  run: runDownsample,
});
export type DownsampleTask = TaskOf<'downsample', typeof fields>;

export function parseDownsampleChunkPath(chunkPath: string): { scaleKey: string; key: string } {
  const parts = chunkPath.split('/');
  if (parts.length !== 2) throw new InvalidInput(`${LABEL}: chunk_path "${chunkPath}" must be <scale key>/<x0-x1_y0-y1_z0-z1>`);
  return { scaleKey: parts[0], key: parts[1] };
}

/** The output chunk of a Downsample task and the box of its children one mip down (checked). */
export function downsampleChildren(volume: Volume, chunkPath: string): { mip: number; chunk: Box; children: Box } {
  const { scaleKey, key } = parseDownsampleChunkPath(chunkPath);
  const mip = scaleIndex(volume.info, scaleKey);
  if (mip === 0) throw new InvalidInput(`${LABEL}: chunk_path ${chunkPath} names mip 0, which has no scale below it`);
  const chunk = parseChunkKey(key, `${LABEL}: chunk_path`);
  assertChunkAligned(volume.scale(mip), chunk, `${LABEL}: chunk_path`);
  const f = downsampleFactor(volume.info, mip);
  const children = intersect(
    { start: chunk.start.map((s, i) => s * f[i]) as Vec3, stop: chunk.stop.map((s, i) => s * f[i]) as Vec3 },
    volume.bounds(mip - 1),
  );
  return { mip, chunk, children };
}

async function runDownsample(task: DownsampleTask) {
  const volume = await Volume.open(task.layer_path);
  const { info } = volume;
  const { mip, chunk, children } = downsampleChildren(volume, task.chunk_path);
  const f = downsampleFactor(info, mip);
  const phase = children.start.map((s, i) => s - chunk.start[i] * f[i]) as Vec3;
  const input = await volume.read(mip - 1, children);
  const out = downsampledShape(shapeOf(children), f, phase);
  if (!equals({ start: chunk.start, stop: chunk.start.map((s, i) => s + out[i]) as Vec3 }, chunk)) {
    throw new InvalidInput(`${LABEL}: children ${formatBox(children)} at mip ${mip - 1} do not cover chunk ${chunkKey(chunk)}; the info's scales are inconsistent`);
  }
  const data = downsampleKernel({ data: input, shape: shapeOf(children), channels: info.num_channels, factor: f, phase }, info.type);
  await volume.writeChunk(mip, chunk, data);
  return { kind: 'downsample', voxels: voxelCount(children), chunksWritten: 1 };
}
