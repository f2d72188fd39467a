// Reads a build chunk (the input of an Ingest task): npz, raw, or a directory of PNG slices.
// Its name gives its box in mip-0 voxels (voxel_offset included): `x0-x1_y0-y1_z0-z1[.npz|.raw]`.
import { decode as decodePngImage } from 'fast-png';
import { readNpzVolume } from '../codecs/npz.js';
import { decodeRaw } from '../codecs/raw.js';
import { Box, parseChunkKey, shapeOf, voxelCount } from '../precomputed/box.js';
import { allocate, DataType, dataTypeOf, TypedArray } from '../precomputed/dtype.js';
import { openStore } from '../storage/open.js';
import { splitUrl } from '../storage/store.js';
import { IngestTask } from './task.js';

export interface BuildChunk { box: Box; data: TypedArray }

export function buildChunkBox(chunkPath: string): Box {
  return parseChunkKey(splitUrl(chunkPath).name, 'Ingest task: chunk_path');
}

export async function readBuildChunk(task: IngestTask, dataType: DataType, channels: number): Promise<BuildChunk> {
  const box = buildChunkBox(task.chunk_path);
  const shape = shapeOf(box);
  const { parent, name } = splitUrl(task.chunk_path);
  const store = openStore(parent);
  const where = `Ingest task: chunk_path ${task.chunk_path}`;
  let data: TypedArray;
  if (task.chunk_encoding === 'png') {
    data = await readPngStack(task.chunk_path, box, dataType, channels);
  } else {
    const bytes = await store.get(name);
    if (!bytes) throw new Error(`${where}: file not found`);
    if (task.chunk_encoding === 'raw') {
      data = decodeRaw(bytes, shape, channels, dataType);
    } else {
      const v = readNpzVolume(bytes, { axes: task.axes, what: where });
      if (v.shape.some((s, i) => s !== shape[i]) || v.channels !== channels) {
        throw new Error(`${where}: array has shape [${v.shape}] x ${v.channels} channel(s), but its name says [${shape}] and the layer has ${channels} channel(s)`);
      }
      data = v.data;
    }
  }
  if (dataTypeOf(data) !== dataType) throw new Error(`${where}: dtype is ${dataTypeOf(data)}, layer data_type is ${dataType}`);
  return { box, data };
}

/** One PNG per z slice, named `<z>.png` with z absolute (leading zeros allowed), each x by y pixels. */
async function readPngStack(dirUrl: string, box: Box, dataType: DataType, channels: number): Promise<TypedArray> {
  const where = `Ingest task: chunk_path ${dirUrl}`;
  if (dataType !== 'uint8' && dataType !== 'uint16') throw new Error(`${where}: PNG stacks hold uint8 or uint16, layer data_type is ${dataType}`);
  const store = openStore(dirUrl);
  const slices = new Map<number, string>();
  for (const key of await store.list()) {
    const m = /^(\d+)\.png$/i.exec(key);
    if (m) slices.set(Number(m[1]), key);
  }
  const [sx, sy, sz] = shapeOf(box);
  const sliceVoxels = sx * sy;
  const out = allocate(dataType, voxelCount(box) * channels) as Uint8Array | Uint16Array;
  await Promise.all(Array.from({ length: sz }, async (_, k) => {
    const z = box.start[2] + k;
    const key = slices.get(z);
    if (key === undefined) throw new Error(`${where}: slice ${z}.png is missing`);
    const bytes = (await store.get(key))!;
    let image;
    try {
      image = decodePngImage(bytes);
    } catch (e) {
      throw new Error(`${where}/${key}: corrupt PNG (${(e as Error).message})`);
    }
    const depth = dataType === 'uint16' ? 16 : 8;
    if (image.width !== sx || image.height !== sy || image.channels !== channels || image.depth !== depth) {
      throw new Error(`${where}/${key}: ${image.width}x${image.height}, ${image.channels} channel(s), ${image.depth}-bit; expected ${sx}x${sy}, ${channels}, ${depth}-bit`);
    }
    for (let c = 0; c < channels; c++) {
      const base = c * voxelCount(box) + k * sliceVoxels;
      for (let i = 0; i < sliceVoxels; i++) out[base + i] = image.data[i * channels + c] as number;
    }
  }));
  return out;
}
