// zarr v2 and v3 arrays (any codec zarrita has: gzip, blosc, zstd, the v3 sharding codec) and
// OME-Zarr multiscales (a level picked; axes, scale and translation read), through zarrita. Only the
// chunks a region touches are read.
import * as zarr from 'zarrita';
import { Box, shapeOf, Vec3 } from '../../common/box.js';
import { allocate, DataType, TypedArray } from '../../common/dtype.js';
import { CorruptData, InvalidInput } from '../../common/errors.js';
import { openStore } from '../../storage/open.js';
import { axisOrder, defaultAxes, labDataType, LabFormat, LabRef, LabVolume, nanometres, selection, xyzcShape } from './format.js';
import { zarrStore } from './store-adapter.js';

interface OmeAxis {
  name: string;
  type?: string;
  unit?: string;
}
interface OmeTransform {
  type: string;
  scale?: number[];
  translation?: number[];
}
interface Multiscale {
  axes?: (OmeAxis | string)[];
  datasets: { path: string; coordinateTransformations?: OmeTransform[] }[];
  coordinateTransformations?: OmeTransform[];
}

export const zarrFormat: LabFormat = {
  async open(ref: LabRef, where: string): Promise<LabVolume> {
    const root = zarr.root(zarrStore(openStore(ref.url)));
    const base = ref.dataset ? root.resolve(ref.dataset.replace(/^\/+/, '')) : root;
    let node: zarr.Array<zarr.DataType> | zarr.Group<zarr.Readable>;
    try {
      node = await zarr.open(base);
    } catch (e) {
      throw new InvalidInput(`${where}: no zarr array or group at ${ref.url}${ref.dataset ? ` (${ref.dataset})` : ''}: ${(e as Error).message}`, { cause: e });
    }
    let axes = ref.axes;
    let resolution: Vec3 | undefined, offset: Vec3 | undefined;
    if (node instanceof zarr.Group) {
      const attrs = node.attrs as { multiscales?: Multiscale[]; ome?: { multiscales?: Multiscale[] } };
      const multiscale = (attrs.ome?.multiscales ?? attrs.multiscales)?.[0];
      if (!multiscale) throw new InvalidInput(`${where}: ${ref.url} is a zarr group without OME-Zarr "multiscales"; name the array (#path)`);
      const level = ref.level ?? 0;
      const dataset = multiscale.datasets[level];
      if (!dataset) throw new InvalidInput(`${where}: multiscales has ${multiscale.datasets.length} levels, not level ${level}`);
      const omeAxes = (multiscale.axes ?? []).map((a) => (typeof a === 'string' ? { name: a } : a));
      if (omeAxes.length) axes ??= omeAxes.map((a) => a.name[0]).join('');
      ({ resolution, offset } = omeGeometry(multiscale, dataset.coordinateTransformations ?? [], omeAxes));
      try {
        node = await zarr.open(node.resolve(dataset.path), { kind: 'array' });
      } catch (e) {
        throw new InvalidInput(`${where}: OME-Zarr level ${level} (${dataset.path}) is not a zarr array: ${(e as Error).message}`, { cause: e });
      }
    }
    const array = node;
    const order = axisOrder(axes ?? defaultAxes(array.shape.length, where), array.shape.length, where);
    const { shape, channels } = xyzcShape(array.shape, order);
    const dataType = labDataType(array.dtype, `${where}: ${ref.url}`);
    return {
      shape,
      channels,
      dataType,
      resolution,
      offset,
      read: (region: Box) => readRegion(array, order, region, channels, dataType, `${where}: ${ref.url}`),
    };
  },
};

/**
 * A region read chunk by chunk (zarrita's getChunk), each chunk's length checked against the array's
 * chunk shape (a chunk of the wrong size is corrupt, not padded), and its part copied out x fastest.
 */
async function readRegion(
  array: zarr.Array<zarr.DataType>,
  order: string,
  region: Box,
  channels: number,
  dataType: DataType,
  where: string,
): Promise<TypedArray> {
  const [sx, sy, sz] = shapeOf(region);
  const out = allocate(dataType, sx * sy * sz * channels);
  const dst = out as unknown as { [i: number]: number | bigint };
  const ranges = selection(region, order, channels);
  const chunkShape = array.chunks;
  const chunkLength = chunkShape.reduce((a, b) => a * b, 1);
  const outStride = [...order].map((d) => ({ x: 1, y: sx, z: sx * sy, c: sx * sy * sz, t: 0 })[d]!);
  const first = ranges.map(([lo], d) => Math.floor(lo / chunkShape[d]));
  const last = ranges.map(([, hi], d) => Math.ceil(hi / chunkShape[d]));
  const rank = order.length;
  const reads: Promise<void>[] = [];
  for (const idx of cartesian(first, last))
    reads.push(
      (async () => {
        let chunk: { data: ArrayLike<number | bigint>; stride: number[] };
        try {
          chunk = (await array.getChunk(idx)) as typeof chunk;
        } catch (e) {
          throw new CorruptData(`${where}: chunk ${idx.join('.')} does not decode (${(e as Error).message})`, { cause: e });
        }
        if (chunk.data.length !== chunkLength)
          throw new CorruptData(
            `${where}: chunk ${idx.join('.')} holds ${chunk.data.length} values, not the ${chunkLength} of its chunk shape [${chunkShape}]`,
          );
        // The part of the chunk inside the region, per dimension, in array coordinates.
        const lo = idx.map((k, d) => Math.max(ranges[d][0], k * chunkShape[d]));
        const hi = idx.map((k, d) => Math.min(ranges[d][1], (k + 1) * chunkShape[d]));
        const inner = rank - 1;
        for (const at of cartesian(lo.slice(0, inner), hi.slice(0, inner))) {
          let src = 0,
            o = 0;
          for (let d = 0; d < inner; d++) {
            src += (at[d] - idx[d] * chunkShape[d]) * chunk.stride[d];
            o += (at[d] - ranges[d][0]) * outStride[d];
          }
          src += (lo[inner] - idx[inner] * chunkShape[inner]) * chunk.stride[inner];
          o += (lo[inner] - ranges[inner][0]) * outStride[inner];
          for (let v = lo[inner]; v < hi[inner]; v++, src += chunk.stride[inner], o += outStride[inner]) dst[o] = chunk.data[src];
        }
      })(),
    );
  await Promise.all(reads);
  return out;
}

/** Every integer point of [lo, hi) (lexicographic; one empty point for no dimensions). */
function* cartesian(lo: number[], hi: number[]): Generator<number[]> {
  if (lo.some((l, d) => l >= hi[d])) return;
  const at = lo.slice();
  for (;;) {
    yield at.slice();
    let d = at.length - 1;
    for (; d >= 0; d--) {
      if (++at[d] < hi[d]) break;
      at[d] = lo[d];
    }
    if (d < 0) return;
  }
}

/** x, y, z nm per voxel and offset in voxels of one OME-Zarr level, where its transforms give them. */
function omeGeometry(ms: Multiscale, level: OmeTransform[], axes: OmeAxis[]): { resolution?: Vec3; offset?: Vec3 } {
  const rank = axes.length;
  const scale = new Array<number>(rank).fill(1),
    translation = new Array<number>(rank).fill(0);
  for (const t of [...level, ...(ms.coordinateTransformations ?? [])]) {
    if (t.type === 'scale' && t.scale?.length === rank) t.scale.forEach((s, i) => (scale[i] *= s));
    if (t.type === 'translation' && t.translation?.length === rank) t.translation.forEach((s, i) => (translation[i] += s));
  }
  const at = (name: string) => axes.findIndex((a) => a.name[0]?.toLowerCase() === name);
  const idx = ['x', 'y', 'z'].map(at);
  if (idx.some((i) => i < 0)) return {};
  const nm = idx.map((i) => nanometres(axes[i].unit) ?? 1);
  const resolution = idx.map((i, d) => scale[i] * nm[d]) as Vec3;
  const voxels = idx.map((i) => translation[i] / scale[i]);
  const offset = voxels.every((v) => Math.abs(v - Math.round(v)) < 1e-6) ? (voxels.map(Math.round) as Vec3) : undefined;
  return { resolution, offset };
}
