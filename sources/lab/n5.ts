// N5 datasets (attributes.json; raw or gzip blocks), a reader of our own: the format is small and no
// npm package reads it. Dimensions are listed fastest first ([x, y, z] or [x, y, z, c]); a block is
// `<dataset>/<i>/<j>/<k>`: a big-endian header (mode, rank, the block's extents) and its big-endian
// elements, first dimension fastest. Missing blocks read as zeros (as N5 writers leave empty ones out).
import { gunzipSync, inflateSync } from 'node:zlib';
import { box, Box, copyRegion, intersect, Vec3, voxelCount } from '../../common/box.js';
import { allocate, BYTES_PER_VOXEL, DataType, TypedArray } from '../../common/dtype.js';
import { CorruptData, InvalidInput } from '../../common/errors.js';
import { openStore } from '../../storage/open.js';
import { joinUrl, MAX_SMALL_JSON_BYTES } from '../../storage/store.js';
import { labDataType, LabFormat, LabRef, LabVolume, nanometres } from './format.js';
import { gzipBound } from '../../storage/gzip.js';

interface N5Attributes {
  dimensions?: unknown;
  blockSize?: unknown;
  dataType?: unknown;
  compression?: { type?: unknown; useZlib?: unknown };
  compressionType?: unknown;
  resolution?: unknown;
  pixelResolution?: { dimensions?: unknown; unit?: unknown };
}

const positiveInts = (v: unknown, n?: number): v is number[] =>
  Array.isArray(v) && (n === undefined || v.length === n) && v.every((x) => Number.isSafeInteger(x) && x > 0);

export const n5Format: LabFormat = {
  async open(ref: LabRef, where: string): Promise<LabVolume> {
    const url = ref.dataset ? joinUrl(ref.url, ref.dataset) : ref.url;
    const store = openStore(url);
    const at = `${url}/attributes.json`;
    const bytes = await store.get('attributes.json', { maxBytes: MAX_SMALL_JSON_BYTES });
    if (!bytes) throw new InvalidInput(`${where}: ${at} is missing (not an N5 dataset)`);
    let attrs: N5Attributes;
    try {
      attrs = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new CorruptData(`${where}: ${at} is not JSON`, { cause: e });
    }
    const dims = attrs.dimensions;
    if (!positiveInts(dims) || (dims.length !== 3 && dims.length !== 4))
      throw new InvalidInput(`${where}: ${at} "dimensions" must be 3 or 4 positive integers ([x, y, z] or [x, y, z, c]), not ${JSON.stringify(dims)}`);
    const blockSize = attrs.blockSize;
    if (!positiveInts(blockSize, dims.length)) throw new InvalidInput(`${where}: ${at} "blockSize" must be ${dims.length} positive integers`);
    if (typeof attrs.dataType !== 'string') throw new InvalidInput(`${where}: ${at} "dataType" is missing`);
    const dataType = labDataType(attrs.dataType, `${where}: ${at} "dataType"`);
    const compression = String(attrs.compression?.type ?? attrs.compressionType ?? 'raw');
    if (compression !== 'raw' && compression !== 'gzip')
      throw new InvalidInput(`${where}: ${at} "compression" ${JSON.stringify(compression)} is not read (raw and gzip are)`);
    const zlib = attrs.compression?.useZlib === true;
    const channels = dims[3] ?? 1;
    if (channels > 1 && blockSize[3] !== channels) throw new InvalidInput(`${where}: ${at} blocks must hold every channel (blockSize[3] = ${channels})`);
    const shape = dims.slice(0, 3) as Vec3;
    const block = blockSize.slice(0, 3) as Vec3;
    const resolution = n5Resolution(attrs);
    // A block file holds at most its header and blockSize's elements (gzip: deflated, so a little more).
    const blockBytes = 4 + 4 * dims.length + blockSize.reduce((a, b) => a * b, 1) * BYTES_PER_VOXEL[dataType];
    const maxBytes = compression === 'raw' ? blockBytes : gzipBound(blockBytes);
    const readBlock = async (g: Vec3): Promise<{ data: TypedArray; box: Box } | undefined> => {
      const key = [...g, ...(dims.length === 4 ? [0] : [])].join('/');
      const raw = await store.get(key, { maxBytes });
      if (!raw) return undefined;
      return decodeBlock(raw, `${where}: ${url}/${key}`, g, block, channels, dataType, compression, zlib);
    };
    return {
      shape,
      channels,
      dataType,
      resolution,
      async read(region: Box) {
        const out = allocate(dataType, voxelCount(region) * channels);
        const lo = region.start.map((s, d) => Math.floor(s / block[d]));
        const hi = region.stop.map((s, d) => Math.ceil(s / block[d]));
        const reads: Promise<void>[] = [];
        for (let z = lo[2]; z < hi[2]; z++)
          for (let y = lo[1]; y < hi[1]; y++)
            for (let x = lo[0]; x < hi[0]; x++)
              reads.push(
                readBlock([x, y, z]).then((b) => {
                  if (b) copyRegion(b.data, b.box, out, region, intersect(b.box, region), channels);
                }),
              );
        await Promise.all(reads);
        return out;
      },
    };
  },
};

function n5Resolution(attrs: N5Attributes): Vec3 | undefined {
  const pr = attrs.pixelResolution;
  const values = Array.isArray(pr?.dimensions) ? pr.dimensions : attrs.resolution;
  if (!Array.isArray(values) || values.length < 3 || !values.slice(0, 3).every((v) => typeof v === 'number' && v > 0)) return undefined;
  const nm = nanometres(typeof pr?.unit === 'string' ? pr.unit : undefined) ?? 1;
  return values.slice(0, 3).map((v: number) => v * nm) as Vec3;
}

/** One block: its header checked against where it sits, its elements byte-swapped to little-endian. */
function decodeBlock(raw: Uint8Array, where: string, g: Vec3, block: Vec3, channels: number, dataType: DataType, compression: string, zlib: boolean) {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (raw.length < 4) throw new CorruptData(`${where}: ${raw.length} bytes, shorter than a block header`);
  const mode = view.getUint16(0),
    rank = view.getUint16(2);
  if (mode !== 0) throw new InvalidInput(`${where}: block mode ${mode} is not read (only mode 0, default blocks)`);
  if (rank !== 3 && rank !== 4) throw new CorruptData(`${where}: a block of ${rank} dimensions in a 3/4-dimensional dataset`);
  if (raw.length < 4 + 4 * rank) throw new CorruptData(`${where}: the block header is cut short`);
  const extent = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  if (extent.slice(0, 3).some((e, d) => e === 0 || e > block[d]) || (rank === 4 && extent[3] !== channels))
    throw new CorruptData(`${where}: block extents [${extent}] do not fit its block size [${block}]`);
  const size = BYTES_PER_VOXEL[dataType];
  const count = extent.reduce((a, b) => a * b, 1);
  const body = raw.subarray(4 + 4 * rank);
  let bytes: Uint8Array;
  try {
    bytes = compression === 'raw' ? body : (zlib ? inflateSync : gunzipSync)(body, { maxOutputLength: count * size + 1 });
  } catch (e) {
    throw new CorruptData(`${where}: the block does not decompress (${(e as Error).message})`, { cause: e });
  }
  if (bytes.length !== count * size) throw new CorruptData(`${where}: ${bytes.length} bytes of elements, its header says ${count} of ${size} bytes`);
  const le = new Uint8Array(bytes); // a copy, swapped in place
  if (size > 1) for (let i = 0; i < le.length; i += size) le.subarray(i, i + size).reverse();
  const data = allocate(dataType, count);
  new Uint8Array(data.buffer).set(le);
  const start = g.map((k, d) => k * block[d]) as Vec3;
  return { data, box: box(start, start.map((s, d) => s + extent[d]) as Vec3) };
}
