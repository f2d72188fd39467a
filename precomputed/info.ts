// The precomputed `info` JSON: its types, validation, creation and the chunk grid of each scale.
import { InvalidInput } from '../common/errors.js';
import { box, Box, chunkKey, contains, equals, formatBox, intersect, isEmpty, Vec3 } from '../common/box.js';
import { BYTES_PER_VOXEL, DataType, isDataType } from '../common/dtype.js';
import { chooseSharding, ShardingChoice, shardingSchema, ShardingSpec } from './sharding.js';
import { parseSchema } from '../common/schema.js';
import { GZIP_STRATEGIES, GzipOptions } from '../storage/gzip.js';
import * as v from 'valibot';
import { ChunkFormat, codecOf, Encoding, ENCODINGS, isEncoding } from '../codecs/registry.js';

export type LayerType = 'image' | 'segmentation';
export { ENCODINGS, type Encoding } from '../codecs/registry.js';

export interface Scale {
  key: string;
  size: Vec3;
  resolution: Vec3;
  voxel_offset: Vec3;
  chunk_sizes: Vec3[];
  encoding: Encoding;
  compressed_segmentation_block_size?: Vec3;
  sharding?: ShardingSpec;
}

export interface Info {
  '@type'?: 'neuroglancer_multiscale_volume';
  type: LayerType;
  data_type: DataType;
  num_channels: number;
  scales: Scale[];
  mesh?: string;
  /**
   * digest's own key: how chunks are gzipped when stored (false: not at all); absent, by encoding
   * (codecs/registry.ts gzipOptions). Readers ignore it: every object says its own Content-Encoding.
   */
  gzip?: GzipOptions | false;
  [extra: string]: unknown;
}

const gzipSchema = v.union([
  v.literal(false),
  v.strictObject({ level: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(9)), strategy: v.optional(v.picklist(GZIP_STRATEGIES), 'default') }),
]);

/**
 * A scale key is a relative path inside the layer. The spec also allows ".." (data outside the layer's
 * directory); digest refuses it, so that no task writes outside the layer it was given.
 */
const SCALE_KEY_PART = /^[A-Za-z0-9_.,-]+$/;
const isScaleKey = (key: unknown) => typeof key === 'string' && key.split('/').every((p) => SCALE_KEY_PART.test(p) && !/^\.+$/.test(p));
/** What else a layer holds at its top level: a scale there would mix its chunks with these files. */
const RESERVED_TOP = ['info', 'provenance', 'mean_graph', 'agglomeration', 'mesh', 'skeletons', 'segment_properties'];
/** Voxel coordinates stay exact in doubles and chunk indices in 64-bit Morton codes. */
const MAX_EXTENT = 2 ** 40;

function fail(field: string, value: unknown, why: string): never {
  throw new InvalidInput(`info: ${field} ${JSON.stringify(value)} ${why}`);
}

function vec3(value: unknown, field: string, opts: { positive?: boolean; integer?: boolean } = {}): Vec3 {
  if (!Array.isArray(value) || value.length !== 3 || !value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    fail(field, value, 'must be an array of 3 numbers');
  }
  if (opts.integer !== false && !value.every(Number.isInteger)) fail(field, value, 'must hold integers');
  if (opts.positive && !value.every((v) => v > 0)) fail(field, value, 'must be positive');
  return [value[0], value[1], value[2]];
}

/** Parses and validates an info object (from JSON text or an object); errors name the field. */
export function parseInfo(input: string | unknown): Info {
  let raw: any = input;
  if (typeof input === 'string') {
    try {
      raw = JSON.parse(input);
    } catch (e) {
      throw new InvalidInput(`info: not valid JSON (${(e as Error).message})`);
    }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('root', raw, 'must be a JSON object');
  if (raw['@type'] !== undefined && raw['@type'] !== 'neuroglancer_multiscale_volume') fail('@type', raw['@type'], 'must be "neuroglancer_multiscale_volume"');
  if (raw.type !== 'image' && raw.type !== 'segmentation') fail('type', raw.type, 'must be "image" or "segmentation"');
  const dataType = typeof raw.data_type === 'string' ? raw.data_type.toLowerCase() : raw.data_type;
  if (!isDataType(dataType)) fail('data_type', raw.data_type, 'must be one of uint8, uint16, uint32, uint64, float32');
  if (!Number.isInteger(raw.num_channels) || raw.num_channels < 1) fail('num_channels', raw.num_channels, 'must be a positive integer');
  if (raw.type === 'segmentation' && raw.num_channels !== 1) fail('num_channels', raw.num_channels, 'must be 1 for segmentation');
  if (!Array.isArray(raw.scales) || raw.scales.length === 0) fail('scales', raw.scales, 'must be a non-empty array');
  const scales = raw.scales.map((s: any, i: number) => parseScale(s, i, dataType, raw.num_channels));
  if (typeof raw.mesh === 'string')
    scales.forEach((s: Scale, i: number) => {
      if (s.key.split('/')[0] === raw.mesh) fail(`scales[${i}].key`, s.key, `is in the mesh directory "${raw.mesh}"`);
    });
  // Two scales with one key would write into one directory: a mip would overwrite another.
  const firstWithKey = new Map<string, number>();
  scales.forEach((s: Scale, i: number) => {
    const j = firstWithKey.get(s.key);
    if (j !== undefined) fail(`scales[${i}].key`, s.key, `is also the key of scales[${j}]; each scale needs its own directory`);
    firstWithKey.set(s.key, i);
  });
  for (let i = 1; i < scales.length; i++) {
    if (scales[i].resolution.some((r: number, d: number) => r < scales[i - 1].resolution[d])) {
      fail(`scales[${i}].resolution`, scales[i].resolution, 'must not decrease from the scale before');
    }
  }
  const gzip = raw.gzip === undefined ? {} : { gzip: parseSchema(gzipSchema, raw.gzip, 'info: gzip') };
  return { ...raw, data_type: dataType, scales, ...gzip };
}

function parseScale(s: any, i: number, dataType: DataType, channels: number): Scale {
  const f = (name: string) => `scales[${i}].${name}`;
  if (typeof s !== 'object' || s === null) fail(`scales[${i}]`, s, 'must be an object');
  if (!isScaleKey(s.key)) fail(f('key'), s.key, 'must be a relative path of names made of letters, digits and "_-.," (no parts of dots alone)');
  if (RESERVED_TOP.includes(s.key.split('/')[0])) fail(f('key'), s.key, `must not start with ${RESERVED_TOP.join(', ')}: the layer keeps other files there`);
  const size = vec3(s.size, f('size'), { positive: true });
  if (!size.every((v) => v <= MAX_EXTENT)) fail(f('size'), s.size, `must be at most ${MAX_EXTENT} voxels per axis`);
  const resolution = vec3(s.resolution, f('resolution'), { positive: true, integer: false });
  const voxelOffset = s.voxel_offset === undefined ? ([0, 0, 0] as Vec3) : vec3(s.voxel_offset, f('voxel_offset'));
  if (!voxelOffset.every((v) => Math.abs(v) <= MAX_EXTENT)) fail(f('voxel_offset'), s.voxel_offset, `must be within ±${MAX_EXTENT}`);
  if (!Array.isArray(s.chunk_sizes) || s.chunk_sizes.length === 0) fail(f('chunk_sizes'), s.chunk_sizes, 'must be a non-empty array of [x,y,z]');
  const chunkSizes = s.chunk_sizes.map((c: unknown, j: number) => vec3(c, f(`chunk_sizes[${j}]`), { positive: true }));
  const encoding = typeof s.encoding === 'string' ? s.encoding.toLowerCase() : s.encoding;
  if (!isEncoding(encoding)) fail(f('encoding'), s.encoding, `must be one of ${ENCODINGS.join(', ')}`);
  const codec = codecOf(encoding);
  const scale: Scale = { ...s, key: s.key, size, resolution, voxel_offset: voxelOffset, chunk_sizes: chunkSizes, encoding };
  const refused = codec.refuses(dataType, channels);
  if (refused) fail(f('encoding'), encoding, refused);
  if (codec.blockSize) {
    scale.compressed_segmentation_block_size = vec3(s.compressed_segmentation_block_size, f('compressed_segmentation_block_size'), { positive: true });
  } else if (s.compressed_segmentation_block_size !== undefined) {
    fail(f('compressed_segmentation_block_size'), s.compressed_segmentation_block_size, `is only allowed with compressed_segmentation encoding`);
  }
  if (s.sharding !== undefined) {
    scale.sharding = parseSchema(shardingSchema, s.sharding, `info: ${f('sharding')}`);
    if (chunkSizes.length !== 1) fail(f('chunk_sizes'), s.chunk_sizes, 'must hold one chunk size in a sharded scale');
    if (scale.sharding.preshift_bits + scale.sharding.minishard_bits > 64) fail(f('sharding'), s.sharding, 'has more than 64 preshift and minishard bits');
  }
  return scale;
}

export interface LayerSpec {
  type: LayerType;
  dataType: DataType;
  numChannels?: number;
  size: Vec3;
  resolution: Vec3;
  voxelOffset?: Vec3;
  chunkSize: Vec3;
  encoding: Encoding;
  blockSize?: Vec3;
  /** Per-mip downsampling factor, each component 1 or 2. */
  factor?: Vec3;
  /** Factors of mips 1, 2, ...; the last one repeats (takes precedence over `factor`). */
  factors?: Vec3[];
  /** Number of scales beyond mip 0; default: until the whole volume fits in one chunk. */
  mips?: number;
  /** Shard every scale, each with parameters chosen for its own grid (precomputed/sharding.ts). */
  sharding?: ShardingChoice;
  /** How chunks are gzipped; absent: by encoding. */
  gzip?: GzipOptions | false;
}

/** Builds a validated info with mip 0 and its downsampled scales. */
export function createInfo(spec: LayerSpec): Info {
  const info: Info = {
    '@type': 'neuroglancer_multiscale_volume',
    type: spec.type,
    data_type: spec.dataType,
    num_channels: spec.numChannels ?? 1,
    scales: [makeScale(spec, spec.resolution, spec.size, spec.voxelOffset ?? [0, 0, 0])],
    ...(spec.gzip !== undefined ? { gzip: spec.gzip } : {}),
  };
  const factors = spec.factors ?? [spec.factor ?? [2, 2, 2]];
  const factorOf = (m: number) => factors[Math.min(m, factors.length - 1)];
  const mips = spec.mips ?? mipsToOneChunk(spec.size, spec.chunkSize, factors);
  for (let m = 0; m < mips; m++) addScale(info, factorOf(m));
  if (spec.sharding) {
    // jpeg and png are compressed already; gzip would only cost time.
    const dataEncoding = spec.sharding.dataEncoding ?? (codecOf(spec.encoding).compressed ? 'raw' : 'gzip');
    const chunkBytes = spec.chunkSize[0] * spec.chunkSize[1] * spec.chunkSize[2] * (spec.numChannels ?? 1) * BYTES_PER_VOXEL[spec.dataType];
    for (const scale of info.scales) scale.sharding = chooseSharding(gridShape(scale), chunkBytes, { ...spec.sharding, dataEncoding });
  }
  return parseInfo(info);
}

function makeScale(spec: LayerSpec, resolution: Vec3, size: Vec3, voxelOffset: Vec3): Scale {
  const scale: Scale = {
    key: resolution.join('_'),
    size,
    resolution,
    voxel_offset: voxelOffset,
    chunk_sizes: [spec.chunkSize],
    encoding: spec.encoding,
  };
  if (codecOf(spec.encoding).blockSize) scale.compressed_segmentation_block_size = spec.blockSize ?? [8, 8, 8];
  return scale;
}

/** Mips until one chunk holds the volume (along every axis that is downsampled); `factors` as in LayerSpec. */
export function mipsToOneChunk(size: Vec3, chunk: Vec3, factors: Vec3 | Vec3[]): number {
  const list = (Array.isArray(factors[0]) ? factors : [factors]) as Vec3[];
  let mips = 0;
  let s = size;
  for (;;) {
    const f = list[Math.min(mips, list.length - 1)];
    if (!s.some((v, i) => f[i] > 1 && v > chunk[i])) return mips;
    s = s.map((v, i) => Math.ceil(v / f[i])) as Vec3;
    mips++;
  }
}

/** Appends a scale downsampled by `factor` from the last one; its bounds hold every voxel with a child inside. */
export function addScale(info: Info, factor: Vec3): Scale {
  if (!factor.every((f) => f === 1 || f === 2)) throw new InvalidInput(`downsample factor [${factor}] must have components 1 or 2`);
  const last = info.scales[info.scales.length - 1];
  const bounds = scaleBounds(last);
  const start = bounds.start.map((v, i) => Math.floor(v / factor[i])) as Vec3;
  const stop = bounds.stop.map((v, i) => Math.ceil(v / factor[i])) as Vec3;
  const resolution = last.resolution.map((r, i) => r * factor[i]) as Vec3;
  const scale: Scale = {
    ...last,
    key: resolution.join('_'),
    size: stop.map((v, i) => v - start[i]) as Vec3,
    resolution,
    voxel_offset: start,
  };
  info.scales.push(scale);
  return scale;
}

/** The integer factor between scale `mip - 1` and scale `mip` (1 or 2 per axis). */
export function downsampleFactor(info: Info, mip: number): Vec3 {
  if (mip < 1 || mip >= info.scales.length) throw new InvalidInput(`mip ${mip} has no scale below it in this layer (scales 0..${info.scales.length - 1})`);
  const lo = info.scales[mip - 1].resolution;
  const hi = info.scales[mip].resolution;
  return lo.map((r, i) => {
    const f = hi[i] / r;
    if (f !== 1 && f !== 2) throw new InvalidInput(`info: scales[${mip}].resolution [${hi}] is not 1x or 2x of scales[${mip - 1}].resolution [${lo}]`);
    return f;
  }) as Vec3;
}

/** The downsampling factor from mip `low` to mip `high`: the product of the factors between. */
export function factorBetween(info: Info, low: number, high: number): Vec3 {
  const f: Vec3 = [1, 1, 1];
  for (let mip = low + 1; mip <= high; mip++) downsampleFactor(info, mip).forEach((x, d) => (f[d] *= x));
  return f;
}

/** Bytes of one voxel of the layer, every channel. */
export function voxelBytes(info: Info): number {
  return info.num_channels * BYTES_PER_VOXEL[info.data_type];
}

export function scaleBounds(scale: Scale): Box {
  return box(scale.voxel_offset, scale.voxel_offset.map((o, i) => o + scale.size[i]) as Vec3);
}

export function chunkSize(scale: Scale): Vec3 {
  return scale.chunk_sizes[0];
}

export function gridShape(scale: Scale): Vec3 {
  return scale.size.map((s, i) => Math.ceil(s / chunkSize(scale)[i])) as Vec3;
}

/** The box of grid cell `g`, clipped at the volume's upper bound. */
export function chunkBox(scale: Scale, g: Vec3): Box {
  const c = chunkSize(scale);
  const bounds = scaleBounds(scale);
  const start = g.map((v, i) => scale.voxel_offset[i] + v * c[i]) as Vec3;
  return intersect(box(start, start.map((v, i) => v + c[i]) as Vec3), bounds);
}

/** Every grid chunk that intersects `region`, x fastest. */
export function chunksIntersecting(scale: Scale, region: Box): Box[] {
  const c = chunkSize(scale);
  const r = intersect(region, scaleBounds(scale));
  if (isEmpty(r)) return [];
  const lo = r.start.map((v, i) => Math.floor((v - scale.voxel_offset[i]) / c[i]));
  const hi = r.stop.map((v, i) => Math.ceil((v - scale.voxel_offset[i]) / c[i]));
  const out: Box[] = [];
  for (let z = lo[2]; z < hi[2]; z++) for (let y = lo[1]; y < hi[1]; y++) for (let x = lo[0]; x < hi[0]; x++) out.push(chunkBox(scale, [x, y, z]));
  return out;
}

/** Every grid chunk lying wholly inside `region`. */
export function chunksWithin(scale: Scale, region: Box): Box[] {
  return chunksIntersecting(scale, region).filter((c) => contains(region, c));
}

export function allChunks(scale: Scale): Box[] {
  return chunksIntersecting(scale, scaleBounds(scale));
}

/** Throws unless `b` is exactly one grid chunk of `scale`; `what` starts the message. */
export function assertChunkAligned(scale: Scale, b: Box, what: string): void {
  const c = chunkSize(scale);
  const g = b.start.map((v, i) => (v - scale.voxel_offset[i]) / c[i]) as Vec3;
  if (!g.every((v, i) => Number.isInteger(v) && v >= 0 && v < gridShape(scale)[i]) || !equals(chunkBox(scale, g), b)) {
    throw new InvalidInput(`${what} ${chunkKey(b)} is not aligned to chunk size [${c}] of scale ${scale.key} (bounds ${formatBox(scaleBounds(scale))})`);
  }
}

export function scaleIndex(info: Info, key: string): number {
  const i = info.scales.findIndex((s) => s.key === key);
  if (i < 0) throw new InvalidInput(`scale "${key}" is not in this layer (scales: ${info.scales.map((s) => s.key).join(', ')})`);
  return i;
}

/** Throws unless `b` is a union of whole grid chunks of `scale` (starts on the grid, ends on it or at the bound). */
export function assertChunkUnion(scale: Scale, b: Box, what: string): void {
  const c = chunkSize(scale);
  const bounds = scaleBounds(scale);
  const aligned = [0, 1, 2].every(
    (i) =>
      b.start[i] < b.stop[i] &&
      (b.start[i] - scale.voxel_offset[i]) % c[i] === 0 &&
      ((b.stop[i] - scale.voxel_offset[i]) % c[i] === 0 || b.stop[i] === bounds.stop[i]),
  );
  if (!aligned || !contains(bounds, b)) {
    throw new InvalidInput(`${what} ${chunkKey(b)} is not made of whole chunks [${c}] of scale ${scale.key} (bounds ${formatBox(bounds)})`);
  }
}

/** What a chunk of `scale` is encoded from: the codec's inputs besides the voxels. */
export function chunkFormat(info: Info, scale: Scale): ChunkFormat {
  return {
    encoding: scale.encoding,
    dataType: info.data_type,
    channels: info.num_channels,
    ...(scale.compressed_segmentation_block_size ? { blockSize: scale.compressed_segmentation_block_size } : {}),
    ...(info.gzip !== undefined ? { gzip: info.gzip } : {}),
  };
}
