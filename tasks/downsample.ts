// Downsample: a region of the top mip it writes, and the `mips` - 1 mips below it, all from one read
// of the mip under them: the region's descendants at mip top - mips are read once, then downsampled
// level by level, each level's chunks (or whole shards) inside the region written. With mips 1 and a
// one-chunk region this is the classic task: the (up to 8) children of one chunk.
import * as v from 'valibot';
import { InvalidInput } from '../common/errors.js';
import { integer } from '../common/schema.js';
import { downsample as downsampleKernel } from '../kernels/backend.js';
import { downsampledShape } from '../kernels/downsample.js';
import { Box, chunkKey, formatBox, parseChunkKey, shapeOf, Vec3, voxelCount } from '../common/box.js';
import { TypedArray } from '../common/dtype.js';
import { assertChunkUnion, chunksWithin, downsampleFactor, scaleIndex } from '../precomputed/info.js';
import { SlabWriter, Volume } from '../precomputed/volume.js';
import { text } from './fields.js';
import { defineTask, TaskOf } from './kind.js';
import { downsampleSlabs, regionsDown } from './pyramid.js';
import type { TaskContext } from './context.js';

const LABEL = 'Downsample task';

const fields = {
  /** `<top scale key>/<x0-x1_y0-y1_z0-z1>`: whole chunks (or shards) of the top mip written. */
  chunk_path: text,
  layer_path: text,
  /** How many mips it writes, the top one and those below it (default 1). */
  mips: v.optional(integer(1, 32)),
};
export const downsample = defineTask('downsample', LABEL, fields, {
  id: (task) => `downsample:${task.layer_path}:${task.chunk_path}:${task.mips ?? 1}`,
  async inputs(task, open) {
    const volume = await open(task.layer_path);
    const { regions, sourceMip } = downsampleRegions(volume, task);
    return volume.chunkObjects(sourceMip, regions[0]);
  },
  run: runDownsample,
});
export type DownsampleTask = TaskOf<'downsample', typeof fields>;

export function parseDownsampleChunkPath(chunkPath: string): { scaleKey: string; key: string } {
  const i = chunkPath.lastIndexOf('/');
  if (i <= 0) throw new InvalidInput(`${LABEL}: chunk_path "${chunkPath}" must be <scale key>/<x0-x1_y0-y1_z0-z1>`);
  return { scaleKey: chunkPath.slice(0, i), key: chunkPath.slice(i + 1) };
}

/**
 * The regions a task covers, from its source mip up to its top mip (regions[0] is read at
 * sourceMip; regions[j] is written at sourceMip + j), checked.
 */
export function downsampleRegions(volume: Volume, task: Pick<DownsampleTask, 'chunk_path' | 'mips'>): { sourceMip: number; regions: Box[] } {
  const { scaleKey, key } = parseDownsampleChunkPath(task.chunk_path);
  const top = scaleIndex(volume.info, scaleKey);
  const mips = task.mips ?? 1;
  if (top - mips < 0) throw new InvalidInput(`${LABEL}: chunk_path ${task.chunk_path} with mips ${mips} would read below mip 0 (the top mip is ${top})`);
  const region = parseChunkKey(key, `${LABEL}: chunk_path`);
  assertChunkUnion(volume.scale(top), region, `${LABEL}: chunk_path`);
  return { sourceMip: top - mips, regions: regionsDown(volume.info, top, mips, region) };
}

/**
 * Streams the region in z slabs of one top-mip chunk layer where they fall on whole chunks at every
 * mip it writes (downsampleSlabs): a task holds one slab's voxels, and the shards it fills, as stored.
 */
async function runDownsample(task: DownsampleTask, ctx: TaskContext) {
  const volume = await ctx.open(task.layer_path);
  const { info } = volume;
  const { sourceMip, regions } = downsampleRegions(volume, task);
  // What the task owns at each mip it writes: the chunks, or whole shards, inside its region there.
  const owned = regions.map((r, j) => (j === 0 ? new Set<string>() : new Set(volume.writableWithin(sourceMip + j, r).map(chunkKey))));
  const writers = regions.map((_, j) => (j === 0 ? undefined : volume.slabWriter(sourceMip + j)));
  let written = 0;
  try {
    const slabs = downsampleSlabs(info, sourceMip + regions.length - 1, regions.length - 1, regions[regions.length - 1]);
    written = await writeLevels(volume, sourceMip, slabs, owned, writers, (r) => volume.read(sourceMip, r), LABEL);
    for (const writer of writers) await writer?.finish();
  } finally {
    await Promise.all(writers.map((w) => w?.release()));
  }
  return { kind: 'downsample', voxels: voxelCount(regions[0]), chunksWritten: written };
}

/**
 * Each slab (its regions from the source mip up, as downsampleSlabs gives them) read at the source
 * mip by `read`, then downsampled level by level, each level's chunks that the task owns given to
 * that mip's writer; the source mip's own chunks too where `writers[0]` is given (a Shard task filling
 * its mip and the mips above). The next level is made from what a reader will see stored
 * (storedValues). Returns the chunks written.
 */
export async function writeLevels(
  volume: Volume,
  sourceMip: number,
  slabs: Box[][],
  owned: Set<string>[],
  writers: (SlabWriter | undefined)[],
  read: (region: Box) => Promise<TypedArray>,
  label: string,
): Promise<number> {
  const { info } = volume;
  let written = 0;
  for (const slab of slabs) {
    let data: TypedArray = await read(slab[0]);
    for (let j = 0; j < slab.length; j++) {
      const mip = sourceMip + j;
      const here = slab[j];
      if (j > 0) {
        const f = downsampleFactor(info, mip);
        const below = slab[j - 1];
        const phase = below.start.map((s, i) => s - here.start[i] * f[i]) as Vec3;
        const out = downsampledShape(shapeOf(below), f, phase);
        if (!out.every((n, i) => n === here.stop[i] - here.start[i])) {
          throw new InvalidInput(`${label}: children ${formatBox(below)} at mip ${mip - 1} do not cover ${chunkKey(here)}; the info's scales are inconsistent`);
        }
        data = await downsampleKernel({ data, shape: shapeOf(below), channels: info.num_channels, factor: f, phase }, info.type);
      }
      if (!writers[j]) continue;
      const chunks = chunksWithin(volume.scale(mip), here);
      const mine = chunks.filter((c) => owned[j].has(chunkKey(c)));
      await writers[j]!.add(mine, data, here);
      written += mine.length;
      if (j + 1 < slab.length) data = volume.storedValues(mip, chunks, data, here);
    }
  }
  return written;
}
