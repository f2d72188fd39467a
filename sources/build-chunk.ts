// Reads a build chunk (the input of an Ingest task): npz, raw, or a directory of PNG slices.
// Its name gives its box in mip-0 voxels (voxel_offset included): `x0-x1_y0-y1_z0-z1[.npz|.raw]`.
// Every reader checks the sizes a file declares against the box before inflating anything.
import { CorruptData, InvalidInput } from '../common/errors.js';
import { readNpzVolume } from './npz.js';
import { decodePngChecked, pngHeader } from '../codecs/png.js';
import { decodeRaw } from '../codecs/raw.js';
import { Box, parseChunkKey, shapeOf, voxelCount } from '../common/box.js';
import { allocate, BYTES_PER_VOXEL, DataType, dataTypeOf, TypedArray } from '../common/dtype.js';
import { openStore } from '../storage/open.js';
import { listAll, splitUrl } from '../storage/store.js';
import type { IngestTask } from '../tasks/ingest.js';

export interface BuildChunk { box: Box; data: TypedArray }

/** The box a build chunk's name gives: `<box>.npz`, `<box>.raw`, or a directory `<box>` of PNG slices. */
export function buildChunkBox(chunkPath: string, encoding: IngestTask['chunk_encoding']): Box {
  const { name } = splitUrl(chunkPath);
  const suffix = encoding === 'png' ? '' : `.${encoding}`;
  if (!name.endsWith(suffix)) throw new InvalidInput(`Ingest task: chunk_path ${chunkPath} must end in ${suffix} for chunk_encoding ${encoding}`);
  return parseChunkKey(name.slice(0, name.length - suffix.length), 'Ingest task: chunk_path');
}

/** The most bytes a build chunk's file may take: its data, and for npz a header (at most 64 KiB) and zip records. */
export function buildChunkMaxBytes(encoding: IngestTask['chunk_encoding'], box: Box, dataType: DataType, channels: number): number {
  const data = voxelCount(box) * channels * BYTES_PER_VOXEL[dataType];
  return encoding === 'raw' ? data : data + 131_072;
}

export async function readBuildChunk(task: IngestTask, dataType: DataType, channels: number): Promise<BuildChunk> {
  const box = buildChunkBox(task.chunk_path, task.chunk_encoding);
  const shape = shapeOf(box);
  const where = `Ingest task: chunk_path ${task.chunk_path}`;
  const dataBytes = voxelCount(box) * channels * BYTES_PER_VOXEL[dataType];
  let data: TypedArray;
  if (task.chunk_encoding === 'png') {
    data = await readPngStack(task.chunk_path, box, dataType, channels);
  } else {
    const { parent, name } = splitUrl(task.chunk_path);
    const bytes = await openStore(parent).get(name, { maxBytes: buildChunkMaxBytes(task.chunk_encoding, box, dataType, channels) });
    if (!bytes) throw new InvalidInput(`${where}: file not found`);
    if (task.chunk_encoding === 'raw') {
      data = decodeRaw(bytes, shape, channels, dataType);
    } else {
      const v = readNpzVolume(bytes, { axes: task.axes, what: where, maxBytes: dataBytes });
      if (v.shape.some((s, i) => s !== shape[i]) || v.channels !== channels) {
        throw new InvalidInput(`${where}: array has shape [${v.shape}] x ${v.channels} channel(s), but its name says [${shape}] and the layer has ${channels} channel(s)`);
      }
      data = v.data;
    }
  }
  if (dataTypeOf(data) !== dataType) throw new InvalidInput(`${where}: dtype is ${dataTypeOf(data)}, layer data_type is ${dataType}`);
  return { box, data };
}

/** The slices of a PNG stack by absolute z; two names for one z (`10.png`, `0010.png`) are an error. */
async function sliceNames(dirUrl: string, where: string): Promise<Map<number, string>> {
  const slices = new Map<number, string>();
  for (const key of await listAll(openStore(dirUrl))) {
    const m = /^(\d+)\.png$/i.exec(key);
    if (!m) continue;
    const z = Number(m[1]);
    const other = slices.get(z);
    if (other !== undefined) throw new InvalidInput(`${where}: ${other} and ${key} are both slice ${z}; keep one`);
    slices.set(z, key);
  }
  return slices;
}

/** One PNG per z slice, named `<z>.png` with z absolute (leading zeros allowed), each x by y pixels. */
async function readPngStack(dirUrl: string, box: Box, dataType: DataType, channels: number): Promise<TypedArray> {
  const where = `Ingest task: chunk_path ${dirUrl}`;
  if (dataType !== 'uint8' && dataType !== 'uint16') throw new InvalidInput(`${where}: PNG stacks hold uint8 or uint16, layer data_type is ${dataType}`);
  const store = openStore(dirUrl);
  const slices = await sliceNames(dirUrl, where);
  const [sx, sy, sz] = shapeOf(box);
  const sliceVoxels = sx * sy;
  const depth = dataType === 'uint16' ? 16 : 8;
  const out = allocate(dataType, voxelCount(box) * channels) as Uint8Array | Uint16Array;
  await Promise.all(Array.from({ length: sz }, async (_, k) => {
    const z = box.start[2] + k;
    const key = slices.get(z);
    if (key === undefined) throw new InvalidInput(`${where}: slice ${z}.png is missing`);
    const bytes = await store.get(key, { maxBytes: 4 * sliceVoxels * channels * (depth / 8) + 65_536 });
    if (!bytes) throw new InvalidInput(`${where}/${key} vanished while reading`);
    const header = pngHeader(bytes, `${where}/${key}`);
    if (header.width !== sx || header.height !== sy || header.channels !== channels || header.depth !== depth) {
      throw new CorruptData(`${where}/${key}: ${header.width}x${header.height}, ${header.channels} channel(s), ${header.depth}-bit; expected ${sx}x${sy}, ${channels}, ${depth}-bit`);
    }
    const image = decodePngChecked(bytes, header, `${where}/${key}`);
    for (let c = 0; c < channels; c++) {
      const base = c * voxelCount(box) + k * sliceVoxels;
      for (let i = 0; i < sliceVoxels; i++) out[base + i] = image.data[i * channels + c] as number;
    }
  }));
  return out;
}
