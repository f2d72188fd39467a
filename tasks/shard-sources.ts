// Where a task's voxels come from, read as one region of one mip: build chunks on a regular grid
// (mip 0), a lab file's region (mip 0: TIFF, HDF5, zarr, N5), the mip below (downsampled), or the
// same mip of another layer. Shard and transfer tasks
// fill their output from these.
import * as v from 'valibot';
import { InvalidInput } from '../common/errors.js';
import { choice, text, vec3Positive } from '../common/schema.js';
import { downsample } from '../kernels/backend.js';
import { downsampledShape } from '../kernels/downsample.js';
import { box, Box, chunkKey, contains, copyRegion, equals, formatBox, intersect, isEmpty, shapeOf, Vec3, voxelCount } from '../common/box.js';
import { allocate, TypedArray } from '../common/dtype.js';
import { downsampleFactor, scaleBounds } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { joinUrl } from '../storage/store.js';
import { BUILD_ENCODINGS, BuildChunk, buildChunkName, readBuildChunk } from '../sources/registry.js';
import { LabVolume } from '../sources/lab/format.js';
import { LabSource, labSourceName, labSourceSchema, openLabForLayer, sourceBox } from '../sources/lab/registry.js';

export const sourceSchema = v.union(
  [
    v.literal('downsample'),
    v.strictObject({ build: text, build_size: vec3Positive, encoding: choice(BUILD_ENCODINGS), axes: v.optional(choice(['xyz', 'zyx'])) }),
    v.strictObject({ layer: text }),
    labSourceSchema,
  ],
  'must be "downsample", {"build", "build_size", "encoding"}, {"layer"} or {"format", "url"}',
);

export type Source = v.InferOutput<typeof sourceSchema>;

/** Build chunks a source keeps besides those of the read in progress (chunk by chunk, in Morton order, a scattered shard's task reads a few again and again). */
export const CACHED_BUILD_CHUNKS = 8;

/** Reads regions of `volume`'s mips from a source; build chunks and the other layer are opened once. */
export class RegionSource {
  private other?: Promise<Volume>;
  private lab?: Promise<LabVolume>;
  /** Build chunks read, by name: their grid cells and contents. */
  private readonly builds = new Map<string, { cell: Box; chunk: Promise<BuildChunk> }>();

  constructor(
    private readonly volume: Volume,
    private readonly source: Source,
    private readonly label: string,
    private readonly open: (url: string) => Promise<Volume> = (url) => Volume.open(url),
  ) {}

  async read(mip: number, region: Box): Promise<TypedArray> {
    if (!contains(this.volume.bounds(mip), region))
      throw new InvalidInput(`${this.label}: region ${formatBox(region)} is outside mip ${mip}'s bounds ${formatBox(this.volume.bounds(mip))}`);
    if (this.source === 'downsample') return this.downsampled(mip, region);
    if ('build' in this.source) return this.fromBuild(mip, region, this.source);
    if ('format' in this.source) return this.fromLab(mip, region, this.source);
    return this.fromLayer(mip, region, this.source.layer);
  }

  /** Closes what the source holds open (an HDF5 file). */
  async close(): Promise<void> {
    const lab = this.lab;
    this.lab = undefined;
    if (lab) (await lab.catch(() => undefined))?.close?.();
  }

  /**
   * Drops the cached build chunks that `region` does not touch: a task streaming slabs keeps only
   * what its next slab reads (each build chunk read once when the slabs go through it in order).
   */
  keepBuildChunksFor(region: Box): void {
    for (const [name, { cell }] of this.builds) if (isEmpty(intersect(cell, region))) this.builds.delete(name);
  }

  private async downsampled(mip: number, region: Box): Promise<TypedArray> {
    if (mip === 0) throw new InvalidInput(`${this.label}: mip 0 cannot be downsampled from below`);
    const { info } = this.volume;
    const f = downsampleFactor(info, mip);
    const children = intersect(box(region.start.map((s, i) => s * f[i]) as Vec3, region.stop.map((s, i) => s * f[i]) as Vec3), this.volume.bounds(mip - 1));
    const phase = children.start.map((s, i) => s - region.start[i] * f[i]) as Vec3;
    const out = downsampledShape(shapeOf(children), f, phase);
    if (!out.every((n, i) => n === region.stop[i] - region.start[i])) {
      throw new InvalidInput(`${this.label}: the children of ${formatBox(region)} at mip ${mip - 1} do not cover it; the info's scales are inconsistent`);
    }
    const input = await this.volume.read(mip - 1, children);
    return await downsample({ data: input, shape: shapeOf(children), channels: info.num_channels, factor: f, phase }, info.type);
  }

  /** Build chunks tile mip 0 from voxel_offset in steps of build_size (the last ones clipped at the bound). */
  private async fromBuild(mip: number, region: Box, source: Extract<Source, { build: string }>): Promise<TypedArray> {
    if (mip !== 0) throw new InvalidInput(`${this.label}: build chunks hold mip 0, not mip ${mip}`);
    const { info } = this.volume;
    const bounds = this.volume.bounds(0);
    const out = allocate(info.data_type, voxelCount(region) * info.num_channels);
    const size = source.build_size;
    const lo = region.start.map((s, i) => Math.floor((s - bounds.start[i]) / size[i]));
    const hi = region.stop.map((s, i) => Math.ceil((s - bounds.start[i]) / size[i]));
    const reads: Promise<void>[] = [];
    // (A read keeps all of its own build chunks, and up to CACHED_BUILD_CHUNKS more.)
    const keep = CACHED_BUILD_CHUNKS + (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]);
    for (let z = lo[2]; z < hi[2]; z++)
      for (let y = lo[1]; y < hi[1]; y++)
        for (let x = lo[0]; x < hi[0]; x++) {
          const start = [x, y, z].map((g, i) => bounds.start[i] + g * size[i]) as Vec3;
          const cell = intersect(box(start, start.map((s, i) => s + size[i]) as Vec3), bounds);
          reads.push(this.buildChunk(cell, source, keep).then((b) => copyRegion(b.data, b.box, out, region, intersect(b.box, region), info.num_channels)));
        }
    await Promise.all(reads);
    return out;
  }

  private buildChunk(cell: Box, source: Extract<Source, { build: string }>, keep: number): Promise<BuildChunk> {
    const name = buildChunkName(chunkKey(cell), source.encoding);
    let p = this.builds.get(name)?.chunk;
    if (!p) {
      // Keep a few: a task reads its region's build chunks together, or chunk by chunk in Morton order.
      if (this.builds.size >= keep) this.builds.delete(this.builds.keys().next().value!);
      const { data_type: dataType, num_channels: channels } = this.volume.info;
      p = readBuildChunk({ url: joinUrl(source.build, name), encoding: source.encoding, axes: source.axes, dataType, channels, label: this.label }).then(
        (b) => {
          if (!equals(b.box, cell)) throw new InvalidInput(`${this.label}: build chunk ${name} is not the grid cell ${chunkKey(cell)}`);
          return b;
        },
      );
      this.builds.set(name, { cell, chunk: p });
    }
    return p;
  }

  /** A lab file's voxels: its voxel 0 is mip 0's voxel_offset. */
  private async fromLab(mip: number, region: Box, source: LabSource): Promise<TypedArray> {
    if (mip !== 0) throw new InvalidInput(`${this.label}: a ${source.format} source holds mip 0, not mip ${mip}`);
    this.lab ??= openLabForLayer(source, this.volume.info, this.label);
    const lab = await this.lab;
    return lab.read(sourceBox(region, this.volume.scale(0).voxel_offset, lab.shape, `${this.label}: source ${labSourceName(source)}`));
  }

  private async fromLayer(mip: number, region: Box, url: string): Promise<TypedArray> {
    this.other ??= this.open(url).then((src) => {
      checkSameGeometry(src, this.volume, this.label);
      return src;
    });
    return (await this.other).read(mip, region);
  }
}

/** A layer copied into another must have the same data and the same scales (chunking and storage may differ). */
export function checkSameGeometry(src: Volume, dst: Volume, label: string): void {
  const a = src.info,
    b = dst.info;
  if (a.data_type !== b.data_type || a.num_channels !== b.num_channels) {
    throw new InvalidInput(`${label}: source ${src.url} is ${a.data_type} x ${a.num_channels}, destination ${dst.url} is ${b.data_type} x ${b.num_channels}`);
  }
  if (a.scales.length < b.scales.length)
    throw new InvalidInput(`${label}: source ${src.url} has ${a.scales.length} scales, destination ${dst.url} needs ${b.scales.length}`);
  b.scales.forEach((s, mip) => {
    const t = a.scales[mip];
    if (!equals(scaleBounds(s), scaleBounds(t)) || !s.resolution.every((r, i) => r === t.resolution[i])) {
      throw new InvalidInput(
        `${label}: mip ${mip} differs: source ${formatBox(scaleBounds(t))} at [${t.resolution}] nm, destination ${formatBox(scaleBounds(s))} at [${s.resolution}] nm`,
      );
    }
  });
}
