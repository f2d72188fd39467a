// Ingest: one build chunk, or one region of a lab file (TIFF, HDF5, zarr, N5) -> its mip-0 chunks and
// every higher-mip chunk it completes (below `mips`).
import { InvalidInput } from '../common/errors.js';
import { choice, integer } from '../common/schema.js';
import { downsample } from '../kernels/backend.js';
import { Box, chunkKey, contains, formatBox, parseChunkKey, shapeOf, Vec3, voxelCount } from '../common/box.js';
import { TypedArray } from '../common/dtype.js';
import { chunkSize, chunksIntersecting, downsampleFactor } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { splitUrl } from '../storage/store.js';
import { BUILD_ENCODINGS, BuildChunk, buildChunkBox, buildChunkMaxBytes, readBuildChunk } from '../sources/registry.js';
import { labSourceSchema } from '../sources/lab/registry.js';
import { boxKey, text } from './fields.js';
import { RegionSource } from './shard-sources.js';
import { defineTask, TaskOf } from './kind.js';
import { pyramidFrom } from './pyramid.js';
import * as v from 'valibot';
import type { TaskContext } from './context.js';

const fields = {
  /** URL of a build chunk named by its mip-0 box: `.../x0-x1_y0-y1_z0-z1.npz` (or `.raw`, or a directory of PNG slices). */
  chunk_path: v.optional(text),
  chunk_encoding: v.optional(choice(BUILD_ENCODINGS)),
  /** Or: a lab file (instead of chunk_path and chunk_encoding), and the region of it to ingest, in mip-0 voxels. */
  source: v.optional(labSourceSchema),
  chunk_position: v.optional(boxKey),
  layer_path: text,
  /** npz only: the array's axis order, 'xyz' (arr[x,y,z,c], default) or 'zyx' (arr[z,y,x] / arr[c,z,y,x]). */
  axes: v.optional(choice(['xyz', 'zyx'])),
  /** Writes mips below this only (the plan's Downsample tasks write the others); default: every mip it completes. */
  mips: v.optional(integer(1, 64)),
};
export const ingest = defineTask('ingest', 'Ingest task', fields, {
  id: (task) => `ingest:${task.layer_path}:${task.chunk_path ?? `${task.source?.url}:${task.chunk_position}`}`,
  async inputs(task, open) {
    if (!task.chunk_path || !task.chunk_encoding) return []; // (a lab source is read by region as the task runs)
    const { info } = await open(task.layer_path);
    const { parent, name } = splitUrl(task.chunk_path);
    const box = buildChunkBox(task.chunk_path, task.chunk_encoding);
    const maxBytes = buildChunkMaxBytes(task.chunk_encoding, box, info.data_type, info.num_channels);
    return maxBytes === undefined ? [] : [{ storeUrl: parent, key: name, maxBytes }]; // (none for a directory)
  },
  run: runIngest,
  check(task) {
    if (task.source) {
      if (task.chunk_path !== undefined) return { field: 'chunk_path', message: 'is not given with a source (the region is chunk_position)' };
      if (task.chunk_encoding !== undefined) return { field: 'chunk_encoding', message: 'is not given with a source' };
      if (task.chunk_position === undefined) return { field: 'chunk_position', message: 'is missing (the region of the source to ingest)' };
      return undefined;
    }
    if (task.chunk_position !== undefined) return { field: 'source', message: 'is missing (chunk_position names a region of a source)' };
    if (task.chunk_path === undefined) return { field: 'chunk_path', message: 'is missing' };
    if (task.chunk_encoding === undefined) return { field: 'chunk_encoding', message: 'is missing' };
    return undefined;
  },
});
export type IngestTask = TaskOf<'ingest', typeof fields>;

async function runIngest(task: IngestTask, ctx: TaskContext) {
  const volume = await ctx.open(task.layer_path);
  const { info } = volume;
  const build = await readInput(task, volume);
  checkBuildBox(volume, build.box);
  let data: TypedArray = build.data;
  let dataBox: Box = build.box;
  let written = 0;
  // A level's writes go on while the next level is computed.
  const writes: Promise<void>[] = [];
  const levels = pyramidFrom(info, build.box).filter((level) => level.mip < (task.mips ?? Infinity));
  for (const [k, level] of levels.entries()) {
    if (level.mip > 0) {
      // Downsample everything we hold; only the completed region's chunks are written.
      const f = downsampleFactor(info, level.mip);
      const start = dataBox.start.map((s, i) => Math.floor(s / f[i])) as Vec3;
      const phase = dataBox.start.map((s, i) => s - start[i] * f[i]) as Vec3;
      data = await downsample({ data, shape: shapeOf(dataBox), channels: info.num_channels, factor: f, phase }, info.type);
      dataBox = { start, stop: dataBox.stop.map((s, i) => Math.ceil(s / f[i])) as Vec3 };
    }
    const write = volume.writeChunks(level.mip, level.chunks, data, dataBox);
    write.catch(() => {}); // (reported below)
    writes.push(write);
    written += level.chunks.length;
    if (k + 1 < levels.length) data = volume.storedValues(level.mip, level.chunks, data, dataBox);
  }
  await Promise.all(writes);
  return { kind: 'ingest', voxels: voxelCount(build.box), chunksWritten: written };
}

/** The task's voxels: its build chunk, or its region of a lab file. */
async function readInput(task: IngestTask, volume: Volume): Promise<BuildChunk> {
  const label = 'Ingest task';
  if (task.source) {
    const box = parseChunkKey(task.chunk_position!, `${label}: chunk_position`);
    checkBuildBox(volume, box);
    const source = new RegionSource(volume, task.source, label);
    try {
      return { box, data: await source.read(0, box) };
    } finally {
      await source.close();
    }
  }
  if (!task.chunk_path || !task.chunk_encoding)
    throw new InvalidInput(`${label}: needs chunk_path and chunk_encoding (a build chunk) or source and chunk_position`);
  const { info } = volume;
  return readBuildChunk({ url: task.chunk_path, encoding: task.chunk_encoding, axes: task.axes, dataType: info.data_type, channels: info.num_channels, label });
}

/** A build chunk must lie inside mip 0 and start and end on its chunk grid (or the bound). */
function checkBuildBox(volume: Volume, box: Box): void {
  const scale0 = volume.scale(0);
  const bounds = volume.bounds(0);
  if (!contains(bounds, box)) throw new InvalidInput(`Ingest task: chunk_path ${chunkKey(box)} lies outside the mip-0 bounds ${formatBox(bounds)}`);
  if (chunksIntersecting(scale0, box).some((c) => !contains(box, c))) {
    throw new InvalidInput(`Ingest task: chunk_path ${chunkKey(box)} is not aligned to chunk size [${chunkSize(scale0)}] of scale ${scale0.key}`);
  }
}
