// Ingest: one build chunk -> its mip-0 chunks and every higher-mip chunk it completes.
import { downsample } from '../kernels/backend.js';
import { Box, chunkKey, contains, formatBox, shapeOf, Vec3, voxelCount } from '../precomputed/box.js';
import { TypedArray } from '../precomputed/dtype.js';
import { chunkSize, chunksIntersecting, downsampleFactor } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { readBuildChunk } from './build-chunk.js';
import { pyramidFrom } from './pyramid.js';
import { IngestTask, TaskResult } from './task.js';

export async function runIngest(task: IngestTask): Promise<TaskResult> {
  const volume = await Volume.open(task.layer_path);
  const { info } = volume;
  const build = await readBuildChunk(task, info.data_type, info.num_channels);
  const scale0 = volume.scale(0);
  const bounds = volume.bounds(0);
  if (!contains(bounds, build.box)) throw new Error(`Ingest task: chunk_path ${chunkKey(build.box)} lies outside the mip-0 bounds ${formatBox(bounds)}`);
  if (chunksIntersecting(scale0, build.box).some((c) => !contains(build.box, c))) {
    throw new Error(`Ingest task: chunk_path ${chunkKey(build.box)} is not aligned to chunk size [${chunkSize(scale0)}] of scale ${scale0.key}`);
  }
  let data: TypedArray = build.data;
  let dataBox: Box = build.box;
  let written = 0;
  for (const level of pyramidFrom(info, build.box)) {
    if (level.mip > 0) {
      // Downsample everything we hold; only the completed region's chunks are written.
      const f = downsampleFactor(info, level.mip);
      const start = dataBox.start.map((s, i) => Math.floor(s / f[i])) as Vec3;
      const phase = dataBox.start.map((s, i) => s - start[i] * f[i]) as Vec3;
      data = downsample({ data, shape: shapeOf(dataBox), channels: info.num_channels, factor: f, phase }, info.type);
      dataBox = { start, stop: dataBox.stop.map((s, i) => Math.ceil(s / f[i])) as Vec3 };
    }
    await volume.writeChunks(level.mip, level.chunks, data, dataBox);
    written += level.chunks.length;
  }
  return { kind: 'ingest', voxels: voxelCount(build.box), chunksWritten: written };
}
