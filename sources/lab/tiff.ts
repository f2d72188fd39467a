// TIFF through geotiff: one file of one or more pages (a multipage TIFF, BigTIFF, tiled or striped;
// uncompressed, deflate, LZW, packbits), a page per z; or a directory of 2D TIFF slices, one per z in
// the natural order of their names. Only the tiles or strips of a region's window are read, by
// ranged reads of the store.
import { addDecoder, BaseDecoder, GeoTIFF, GeoTIFFImage, getDecoder } from 'geotiff';
import { inflateSync } from 'node:zlib';
import { Box, shapeOf, Vec3 } from '../../common/box.js';
import { allocate, DataType, dataTypeOf, fromBytes, TypedArray } from '../../common/dtype.js';
import { CorruptData, InvalidInput } from '../../common/errors.js';
import { openStore } from '../../storage/open.js';
import { Limiter } from '../../storage/limit.js';
import { listAll, splitUrl, Store } from '../../storage/store.js';
import { LabFormat, LabRef, LabVolume } from './format.js';

const TIFF_NAME = /\.tiff?$/i;
/** Pages read at once by one region read (each holds its decoded window until it is copied out). */
const PAGES_AT_ONCE = 8;

/** A TIFF file read by ranges of a store (geotiff's source contract: fetch slices, file size unknown). */
async function openTiff(store: Store, key: string, where: string): Promise<GeoTIFF> {
  const source = {
    fileSize: null,
    async fetch(slices: { offset: number; length: number }[]): Promise<ArrayBuffer[]> {
      return Promise.all(
        slices.map(async ({ offset, length }) => {
          const bytes = await store.getRange(key, offset, length);
          if (!bytes) throw new InvalidInput(`${where}: ${store.url}/${key} is missing`);
          return bytes.slice().buffer as ArrayBuffer;
        }),
      );
    },
    close() {},
  };
  try {
    return await GeoTIFF.fromSource(source as never);
  } catch (e) {
    if (e instanceof InvalidInput) throw e;
    throw new CorruptData(`${where}: ${store.url}/${key} is not a readable TIFF (${(e as Error).message})`, { cause: e });
  }
}

/** Deflate through node's zlib (geotiff's default, pako, is slower). */
class ZlibDecoder extends BaseDecoder {
  override decodeBlock(buffer: ArrayBuffer): ArrayBuffer {
    const b = inflateSync(new Uint8Array(buffer));
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  }
}
addDecoder([8, 32946], () => Promise.resolve(ZlibDecoder as never), undefined, false);

/** Compressions whose tiles and strips are read whole and copied row by row (others through readRasters). */
const ROW_COPY_COMPRESSIONS = new Set([1, 5, 8, 32946, 32773]);

/**
 * A window of one page into `out` at `base` (x fastest, then y; channel c at c * plane): its tiles or
 * strips decoded whole and copied a row at a time, as stored (byte-swapped where the file is
 * big-endian). False where the page is of a kind read through geotiff's readRasters instead.
 */
async function readWindowByRows(image: GeoTIFFImage, region: Box, out: TypedArray, base: number, plane: number, channels: number): Promise<boolean> {
  const compression = Number(image.fileDirectory.getValue('Compression') ?? 1);
  const planar = Number(image.fileDirectory.getValue('PlanarConfiguration') ?? 1);
  if (!ROW_COPY_COMPRESSIONS.has(compression) || (channels > 1 && planar !== 1)) return false;
  const tw = image.getTileWidth(),
    th = image.getTileHeight();
  const decoder = await getDecoder(compression, {
    tileWidth: tw,
    tileHeight: th,
    planarConfiguration: planar,
    bitsPerSample: image.fileDirectory.getValue('BitsPerSample'),
    predictor: Number((await image.fileDirectory.loadValue('Predictor')) ?? 1),
  } as never);
  const [x0, y0] = region.start,
    [x1, y1] = region.stop;
  const sx = x1 - x0;
  const size = out.BYTES_PER_ELEMENT;
  const tiles: Promise<void>[] = [];
  for (let ty = Math.floor(y0 / th); ty < Math.ceil(y1 / th); ty++)
    for (let tx = Math.floor(x0 / tw); tx < Math.ceil(x1 / tw); tx++)
      tiles.push(
        image.getTileOrStrip(tx, ty, 0, decoder as never).then(({ data }) => {
          const bytes = new Uint8Array(data as ArrayBuffer);
          if (size > 1 && !image.littleEndian) for (let i = 0; i + size <= bytes.length; i += size) bytes.subarray(i, i + size).reverse();
          const tile = fromBytes(dataTypeOf(out), bytes.subarray(0, bytes.length - (bytes.length % size)));
          const xa = Math.max(x0, tx * tw),
            xb = Math.min(x1, (tx + 1) * tw);
          for (let y = Math.max(y0, ty * th); y < Math.min(y1, (ty + 1) * th); y++) {
            const src = ((y - ty * th) * tw + (xa - tx * tw)) * channels;
            const dst = base + (y - y0) * sx + (xa - x0);
            if (src + (xb - xa) * channels > tile.length) throw new CorruptData(`a tile or strip holds ${tile.length} samples, fewer than its size says`);
            if (channels === 1) (out as Uint8Array).set((tile as Uint8Array).subarray(src, src + (xb - xa)), dst);
            else
              for (let c = 0; c < channels; c++)
                for (let i = 0; i < xb - xa; i++) (out as Uint8Array)[c * plane + dst + i] = (tile as Uint8Array)[src + i * channels + c];
          }
        }),
      );
  await Promise.all(tiles);
  return true;
}

/** Natural order of names: digit runs by value (`s2.tif` before `s10.tif`). */
function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

function pixelType(image: GeoTIFFImage, where: string): { dataType: DataType; channels: number } {
  const channels = image.getSamplesPerPixel();
  const bits = image.getBitsPerSample();
  const format = image.getSampleFormat(); // 1 unsigned, 2 signed, 3 float
  const table: Record<string, DataType> = { '1:8': 'uint8', '1:16': 'uint16', '1:32': 'uint32', '1:64': 'uint64', '3:32': 'float32' };
  const dataType = table[`${format}:${bits}`];
  if (!dataType)
    throw new InvalidInput(
      `${where}: ${bits}-bit ${format === 2 ? 'signed' : format === 3 ? 'float' : 'unsigned'} samples are not a type a precomputed layer holds`,
    );
  return { dataType, channels };
}

export const tiffFormat: LabFormat = {
  async open(ref: LabRef, where: string): Promise<LabVolume> {
    // A file, or a directory of slices.
    const { parent, name } = splitUrl(ref.url);
    if (TIFF_NAME.test(name)) {
      const store = openStore(parent);
      const tiff = await openTiff(store, name, where);
      const corrupt = (e: unknown) => {
        throw new CorruptData(`${where}: ${ref.url}: its pages do not read (${(e as Error).message}); is it cut short?`, { cause: e });
      };
      const depth = await tiff.getImageCount().catch(corrupt);
      const cache = new Map<number, Promise<GeoTIFFImage>>();
      const page = (z: number) => {
        let p = cache.get(z);
        if (!p) cache.set(z, (p = tiff.getImage(z).catch(corrupt)));
        return p;
      };
      const first = await page(0);
      return volume(first, depth, page, (z) => `${ref.url} page ${z}`, where);
    }
    const store = openStore(ref.url);
    const names = (await listAll(store)).filter((k) => !k.includes('/') && TIFF_NAME.test(k)).sort(naturalCompare);
    if (names.length === 0) throw new InvalidInput(`${where}: ${ref.url} is neither a .tif/.tiff file nor a directory of them`);
    const seen = new Map<string, string>();
    for (const n of names) {
      const same = n.toLowerCase().replace(/\d+/g, (d) => String(BigInt(d)));
      const other = seen.get(same);
      if (other !== undefined) throw new InvalidInput(`${where}: ${other} and ${n} are the same slice number; keep one`);
      seen.set(same, n);
    }
    const cache = new Map<number, Promise<GeoTIFFImage>>();
    const page = (z: number) => {
      let p = cache.get(z);
      if (!p) {
        if (cache.size >= 64) cache.delete(cache.keys().next().value!);
        cache.set(
          z,
          (p = openTiff(store, names[z], where).then((t) =>
            t.getImage(0).catch((e: unknown) => {
              throw new CorruptData(`${where}: ${ref.url}/${names[z]}: its first page does not read (${(e as Error).message})`, { cause: e });
            }),
          )),
        );
      }
      return p;
    };
    return volume(await page(0), names.length, page, (z) => `${ref.url}/${names[z]}`, where);
  },
};

function volume(first: GeoTIFFImage, depth: number, page: (z: number) => Promise<GeoTIFFImage>, label: (z: number) => string, where: string): LabVolume {
  const shape: Vec3 = [first.getWidth(), first.getHeight(), depth];
  const { dataType, channels } = pixelType(first, `${where}: ${label(0)}`);
  return {
    shape,
    dataType,
    channels,
    async read(region: Box) {
      const [sx, sy, sz] = shapeOf(region);
      const plane = sx * sy;
      const out = allocate(dataType, plane * sz * channels);
      const dst = out as unknown as { [i: number]: number | bigint };
      // A few pages at a time: each page's window is decoded, copied out and dropped.
      const pages = new Limiter(PAGES_AT_ONCE);
      await Promise.all(
        Array.from({ length: sz }, (_, k) =>
          pages.run(async () => {
            const z = region.start[2] + k;
            const image = await page(z);
            const got = pixelType(image, `${where}: ${label(z)}`);
            if (image.getWidth() !== shape[0] || image.getHeight() !== shape[1] || got.dataType !== dataType || got.channels !== channels)
              throw new InvalidInput(
                `${where}: ${label(z)} is ${image.getWidth()}x${image.getHeight()} ${got.dataType} x ${got.channels}, the first slice ${shape[0]}x${shape[1]} ${dataType} x ${channels}`,
              );
            try {
              if (await readWindowByRows(image, region, out, k * plane, plane * sz, channels)) return;
            } catch (e) {
              throw new CorruptData(`${where}: ${label(z)}: its pixels do not read (${(e as Error).message})`, { cause: e });
            }
            let raster: ArrayLike<number | bigint>;
            try {
              raster = (await image.readRasters({ window: [region.start[0], region.start[1], region.stop[0], region.stop[1]], interleave: true })) as ArrayLike<
                number | bigint
              >;
            } catch (e) {
              throw new CorruptData(`${where}: ${label(z)}: its pixels do not read (${(e as Error).message})`, { cause: e });
            }
            if (raster.length !== plane * channels) throw new CorruptData(`${where}: ${label(z)}: ${raster.length} samples for a ${sx}x${sy} window`);
            for (let c = 0; c < channels; c++) {
              const base = (c * sz + k) * plane;
              for (let i = 0; i < plane; i++) dst[base + i] = raster[i * channels + c];
            }
          }),
        ),
      );
      return out;
    },
  };
}
