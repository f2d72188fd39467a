// Downsample: the (up to 8) child chunks at mip N-1 -> one chunk at mip N.
import { downsample } from '../kernels/backend.js';
import { Box, chunkKey, equals, formatBox, intersect, parseChunkKey, shapeOf, Vec3, voxelCount } from '../precomputed/box.js';
import { assertChunkAligned, downsampleFactor, scaleIndex } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { downsampledShape } from '../kernels/downsample.js';
import { DownsampleTask, TaskResult } from './task.js';

export function parseDownsampleChunkPath(chunkPath: string): { scaleKey: string; key: string } {
  const parts = chunkPath.replace(/\/+$/, '').split('/');
  if (parts.length < 2) throw new Error(`Downsample task: chunk_path "${chunkPath}" must be <scale key>/<x0-x1_y0-y1_z0-z1>`);
  return { scaleKey: parts[parts.length - 2], key: parts[parts.length - 1] };
}

/** The output chunk of a Downsample task and the box of its children one mip down (checked). */
export function downsampleChildren(volume: Volume, chunkPath: string): { mip: number; chunk: Box; children: Box } {
  const { scaleKey, key } = parseDownsampleChunkPath(chunkPath);
  const mip = scaleIndex(volume.info, scaleKey);
  if (mip === 0) throw new Error(`Downsample task: chunk_path ${chunkPath} names mip 0, which has no scale below it`);
  const chunk = parseChunkKey(key, 'Downsample task: chunk_path');
  assertChunkAligned(volume.scale(mip), chunk, 'Downsample task: chunk_path');
  const f = downsampleFactor(volume.info, mip);
  const children = intersect(
    { start: chunk.start.map((s, i) => s * f[i]) as Vec3, stop: chunk.stop.map((s, i) => s * f[i]) as Vec3 },
    volume.bounds(mip - 1),
  );
  return { mip, chunk, children };
}

export async function runDownsample(task: DownsampleTask): Promise<TaskResult> {
  const volume = await Volume.open(task.layer_path);
  const { info } = volume;
  const { mip, chunk, children } = downsampleChildren(volume, task.chunk_path);
  const f = downsampleFactor(info, mip);
  const phase = children.start.map((s, i) => s - chunk.start[i] * f[i]) as Vec3;
  const input = await volume.read(mip - 1, children);
  const out = downsampledShape(shapeOf(children), f, phase);
  if (!equals({ start: chunk.start, stop: chunk.start.map((s, i) => s + out[i]) as Vec3 }, chunk)) {
    throw new Error(`Downsample task: children ${formatBox(children)} at mip ${mip - 1} do not cover chunk ${chunkKey(chunk)}; the info's scales are inconsistent`);
  }
  const data = downsample({ data: input, shape: shapeOf(children), channels: info.num_channels, factor: f, phase }, info.type);
  await volume.writeChunk(mip, chunk, data);
  return { kind: 'downsample', voxels: voxelCount(children), chunksWritten: 1 };
}
