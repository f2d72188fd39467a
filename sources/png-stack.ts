// Build chunks as a directory of PNG slices, `<box>/<z>.png` with z absolute (leading zeros allowed),
// each x by y pixels, channels interleaved.
import { CorruptData, InvalidInput } from '../common/errors.js';
import { decodePngChecked, pngHeader } from '../codecs/png.js';
import { Box, shapeOf, voxelCount } from '../common/box.js';
import { allocate, DataType, TypedArray } from '../common/dtype.js';
import { openStore } from '../storage/open.js';
import { listAll } from '../storage/store.js';
import { BuildFormat } from './format.js';

export const pngStackFormat: BuildFormat = {
  suffix: '',
  read: (r) => readPngStack(r.url, r.box, r.dataType, r.channels, r.where),
};

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
async function readPngStack(dirUrl: string, box: Box, dataType: DataType, channels: number, where: string): Promise<TypedArray> {
  if (dataType !== 'uint8' && dataType !== 'uint16') throw new InvalidInput(`${where}: PNG stacks hold uint8 or uint16, layer data_type is ${dataType}`);
  const store = openStore(dirUrl);
  const slices = await sliceNames(dirUrl, where);
  const [sx, sy, sz] = shapeOf(box);
  const sliceVoxels = sx * sy;
  const depth = dataType === 'uint16' ? 16 : 8;
  const out = allocate(dataType, voxelCount(box) * channels) as Uint8Array | Uint16Array;
  await Promise.all(
    Array.from({ length: sz }, async (_, k) => {
      const z = box.start[2] + k;
      const key = slices.get(z);
      if (key === undefined) throw new InvalidInput(`${where}: slice ${z}.png is missing`);
      const bytes = await store.get(key, { maxBytes: 4 * sliceVoxels * channels * (depth / 8) + 65_536 });
      if (!bytes) throw new InvalidInput(`${where}/${key} vanished while reading`);
      const header = pngHeader(bytes, `${where}/${key}`);
      if (header.width !== sx || header.height !== sy || header.channels !== channels || header.depth !== depth) {
        throw new CorruptData(
          `${where}/${key}: ${header.width}x${header.height}, ${header.channels} channel(s), ${header.depth}-bit; expected ${sx}x${sy}, ${channels}, ${depth}-bit`,
        );
      }
      const image = decodePngChecked(bytes, header, `${where}/${key}`);
      for (let c = 0; c < channels; c++) {
        const base = c * voxelCount(box) + k * sliceVoxels;
        for (let i = 0; i < sliceVoxels; i++) out[base + i] = image.data[i * channels + c] as number;
      }
    }),
  );
  return out;
}
