// The lab formats an Ingest or Shard task reads a region of, by the name a task gives them (its
// `source.format`). Adding one: a module exporting a LabFormat (sources/lab/format.ts), one line here.
import * as v from 'valibot';
import { box, Box, formatBox, Vec3 } from '../../common/box.js';
import { InvalidInput } from '../../common/errors.js';
import { choice, integer, text } from '../../common/schema.js';
import type { Info } from '../../precomputed/info.js';
import { LabFormat, LabVolume } from './format.js';
import { hdf5Format } from './hdf5.js';
import { n5Format } from './n5.js';
import { tiffFormat } from './tiff.js';
import { zarrFormat } from './zarr.js';

const FORMATS = { tiff: tiffFormat, hdf5: hdf5Format, zarr: zarrFormat, n5: n5Format } satisfies Record<string, LabFormat>;
export type LabFormatName = keyof typeof FORMATS;
export const LAB_FORMATS = Object.keys(FORMATS) as [LabFormatName, ...LabFormatName[]];

/** A lab source as a task names it. */
export const labSourceSchema = v.strictObject({
  format: choice(LAB_FORMATS),
  url: text,
  /** HDF5: the dataset path; zarr/N5: the array's path in the container. */
  dataset: v.optional(text),
  /** OME-Zarr: the multiscale level. */
  level: v.optional(integer(0, 63)),
  /** The array's axes, slowest first (`zyx`, `czyx`, ...), where the file does not say. */
  axes: v.optional(v.pipe(v.string(), v.regex(/^[xyzct]{3,5}$/i, 'must name the axes slowest first, e.g. "zyx" or "czyx"'))),
});
export type LabSource = v.InferOutput<typeof labSourceSchema>;

export function openLabSource(source: LabSource, where: string): Promise<LabVolume> {
  return FORMATS[source.format].open(source, where);
}

/**
 * A source from a URL as a user gives it: `<url>#<dataset>` for HDF5 (and a zarr/N5 array inside a
 * container), the format from `format` or else the name (.tif/.tiff, .h5/.hdf5/.hdf/.ims, .zarr, .n5).
 */
export function labSourceOf(spec: string, format?: string, extra: { level?: number; axes?: string } = {}): LabSource {
  const hash = spec.indexOf('#');
  const url = (hash < 0 ? spec : spec.slice(0, hash)).replace(/\/+$/, '');
  const dataset = hash < 0 ? undefined : spec.slice(hash + 1) || undefined;
  const guessed =
    format ??
    (/\.tiff?$/i.test(url) ? 'tiff' : /\.(h5|hdf5|hdf|ims)$/i.test(url) ? 'hdf5' : /\.zarr$/i.test(url) ? 'zarr' : /\.n5$/i.test(url) ? 'n5' : undefined);
  if (!guessed) throw new InvalidInput(`source ${spec}: say its format (--source-format ${LAB_FORMATS.join('|')}); the name does not tell it`);
  if (!(LAB_FORMATS as string[]).includes(guessed)) throw new InvalidInput(`source format "${guessed}" is not one of ${LAB_FORMATS.join(', ')}`);
  return { format: guessed as LabFormatName, url, ...(dataset ? { dataset } : {}), ...extra };
}

/** A source as errors name it: its URL, and `#dataset` where it has one. */
export function labSourceName(source: LabSource): string {
  return `${source.url}${source.dataset ? `#${source.dataset}` : ''}`;
}

/**
 * The source opened as a layer's mip 0, checked: the same size, data type and channels, and the same
 * resolution and offset where the file states them; else an error naming both. (The planner opens it
 * once to check it; each task opens it to read.)
 */
export async function openLabForLayer(source: LabSource, info: Info, label: string): Promise<LabVolume> {
  const where = `${label}: source ${labSourceName(source)}`;
  const lab = await openLabSource(source, where);
  try {
    checkLabFits(lab, info, where);
  } catch (e) {
    lab.close?.();
    throw e;
  }
  return lab;
}

function checkLabFits(lab: LabVolume, info: Info, where: string): void {
  const { size, resolution, voxel_offset: offset } = info.scales[0];
  if (!lab.shape.every((n, d) => n === size[d]))
    throw new InvalidInput(`${where}: the source is ${lab.shape.join('x')} voxels, the layer's mip 0 is ${size.join('x')}`);
  if (lab.dataType !== info.data_type) throw new InvalidInput(`${where}: the source is ${lab.dataType}, the layer's data_type is ${info.data_type}`);
  if (lab.channels !== info.num_channels)
    throw new InvalidInput(`${where}: the source has ${lab.channels} channel(s), the layer's num_channels is ${info.num_channels}`);
  if (lab.resolution && !lab.resolution.every((r, d) => Math.abs(r - resolution[d]) <= 1e-6 * r))
    throw new InvalidInput(`${where}: the source says [${lab.resolution}] nm per voxel, the layer's mip 0 is [${resolution}]`);
  if (lab.offset && !lab.offset.every((o, d) => o === offset[d]))
    throw new InvalidInput(`${where}: the source says its first voxel is at [${lab.offset}], the layer's voxel_offset is [${offset}]`);
}

/** The source box of a layer region (the source's voxel 0 is the layer's voxel_offset). */
export function sourceBox(region: Box, voxelOffset: Vec3, shape: Vec3, where: string): Box {
  const b = box(region.start.map((s, d) => s - voxelOffset[d]) as Vec3, region.stop.map((s, d) => s - voxelOffset[d]) as Vec3);
  if (b.start.some((s) => s < 0) || b.stop.some((s, d) => s > shape[d])) throw new InvalidInput(`${where}: region ${formatBox(region)} is outside the source`);
  return b;
}
