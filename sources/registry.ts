// The build-chunk formats an Ingest (or Shard) task reads, by the name a task gives them. Adding one:
// a module exporting a BuildFormat (sources/format.ts), and one line here.
import { Box, parseChunkKey } from '../common/box.js';
import { DataType, dataTypeOf, TypedArray } from '../common/dtype.js';
import { InvalidInput } from '../common/errors.js';
import { splitUrl } from '../storage/store.js';
import { BuildFormat } from './format.js';
import { npzFormat } from './npz.js';
import { pngStackFormat } from './png-stack.js';
import { rawFormat } from './raw-file.js';
import { buildDataBytes } from './read-file.js';

const FORMATS = {
  npz: npzFormat,
  raw: rawFormat,
  png: pngStackFormat,
} satisfies Record<string, BuildFormat>;

export type BuildEncoding = keyof typeof FORMATS;
export const BUILD_ENCODINGS = Object.keys(FORMATS) as [BuildEncoding, ...BuildEncoding[]];

export interface BuildChunk {
  box: Box;
  data: TypedArray;
}

/** A build chunk to read: where, in which format, for a layer of this data type and channel count. */
export interface BuildChunkRef {
  url: string;
  encoding: BuildEncoding;
  axes?: 'xyz' | 'zyx';
  dataType: DataType;
  channels: number;
  /** The task kind's label, for errors: `Ingest task`. */
  label: string;
}

/** What follows the box in a build chunk's name; '' where the chunk is a directory (of PNG slices). */
export function buildSuffix(encoding: BuildEncoding): string {
  return FORMATS[encoding].suffix;
}

/** The name of the build chunk of `box` in a format: `<box>.npz`, `<box>.raw`, a directory `<box>`. */
export function buildChunkName(key: string, encoding: BuildEncoding): string {
  return `${key}${FORMATS[encoding].suffix}`;
}

/** The box a build chunk's name gives. */
export function buildChunkBox(url: string, encoding: BuildEncoding, label = 'Ingest task'): Box {
  const { name } = splitUrl(url);
  const { suffix } = FORMATS[encoding];
  if (!name.endsWith(suffix)) throw new InvalidInput(`${label}: chunk_path ${url} must end in ${suffix} for chunk_encoding ${encoding}`);
  return parseChunkKey(name.slice(0, name.length - suffix.length), `${label}: chunk_path`);
}

/** The most bytes the build chunk's one file may take, or undefined where it is a directory. */
export function buildChunkMaxBytes(encoding: BuildEncoding, box: Box, dataType: DataType, channels: number): number | undefined {
  return FORMATS[encoding].maxBytes?.(buildDataBytes({ box, dataType, channels }));
}

export async function readBuildChunk(ref: BuildChunkRef): Promise<BuildChunk> {
  const box = buildChunkBox(ref.url, ref.encoding, ref.label);
  const where = `${ref.label}: chunk_path ${ref.url}`;
  const data = await FORMATS[ref.encoding].read({ url: ref.url, box, dataType: ref.dataType, channels: ref.channels, axes: ref.axes, where });
  if (dataTypeOf(data) !== ref.dataType) throw new InvalidInput(`${where}: dtype is ${dataTypeOf(data)}, layer data_type is ${ref.dataType}`);
  return { box, data };
}
