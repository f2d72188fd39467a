// HDF5 datasets (chunked, gzip or not, and contiguous) through h5wasm: a region is a hyperslab read,
// so HDF5 reads only the chunks it touches. h5wasm reads local files, so the URL is file://.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import h5wasm from 'h5wasm/node';
import { box, Box, copyRegion, shapeOf } from '../../common/box.js';
import { allocate, BYTES_PER_VOXEL, DataType } from '../../common/dtype.js';
import { CorruptData, InvalidInput } from '../../common/errors.js';
import { axisOrder, defaultAxes, LabFormat, LabRef, LabVolume, selection, toXyzc, xyzcShape } from './format.js';

/** The most bytes of one hyperslab read. */
const SLAB_BYTES = 32 << 20;

function hdf5Type(meta: { type: number; size: number; signed: boolean }, where: string): DataType {
  // h5wasm's type classes: 0 integer, 1 float.
  const name = meta.type === 1 ? `float${8 * meta.size}` : `${meta.signed ? 'int' : 'uint'}${8 * meta.size}`;
  const ok: Record<string, DataType> = { uint8: 'uint8', uint16: 'uint16', uint32: 'uint32', uint64: 'uint64', float32: 'float32' };
  if (meta.type > 1 || !ok[name])
    throw new InvalidInput(`${where}: data type ${name} is not one a precomputed layer holds (uint8, uint16, uint32, uint64, float32)`);
  return ok[name];
}

export const hdf5Format: LabFormat = {
  async open(ref: LabRef, where: string): Promise<LabVolume> {
    if (!ref.url.startsWith('file://')) throw new InvalidInput(`${where}: HDF5 files are read from file:// URLs (h5wasm reads local files), not ${ref.url}`);
    if (!ref.dataset) throw new InvalidInput(`${where}: an HDF5 source names its dataset: ${ref.url}#/path/to/dataset`);
    const path = fileURLToPath(ref.url);
    if (!existsSync(path)) throw new InvalidInput(`${where}: ${ref.url} does not exist`);
    await h5wasm.ready;
    let file: InstanceType<typeof h5wasm.File>;
    try {
      file = new h5wasm.File(path, 'r');
    } catch (e) {
      throw new CorruptData(`${where}: ${ref.url} is not a readable HDF5 file`, { cause: e });
    }
    const node = file.get(ref.dataset);
    if (!(node instanceof h5wasm.Dataset)) {
      file.close();
      throw new InvalidInput(`${where}: ${ref.url} has no dataset ${ref.dataset}${node ? ' (it is a group)' : ''}`);
    }
    const dataset = node;
    const dims = dataset.shape ?? [];
    const order = axisOrder(ref.axes ?? defaultAxes(dims.length, where), dims.length, where);
    const { shape, channels } = xyzcShape(dims, order);
    const dataType = hdf5Type(dataset.metadata as { type: number; size: number; signed: boolean }, `${where}: ${ref.url}#${ref.dataset}`);
    return {
      shape,
      channels,
      dataType,
      async read(region: Box) {
        // In z slabs of about SLAB_BYTES: h5wasm holds a hyperslab in its heap and again in a copy.
        const [sx, sy, sz] = shapeOf(region);
        const planeBytes = sx * sy * channels * BYTES_PER_VOXEL[dataType];
        const step = Math.max(1, Math.floor(SLAB_BYTES / planeBytes));
        const out = allocate(dataType, sx * sy * sz * channels);
        for (let z = region.start[2]; z < region.stop[2]; z += step) {
          const slab = box([region.start[0], region.start[1], z], [region.stop[0], region.stop[1], Math.min(region.stop[2], z + step)]);
          const sel = selection(slab, order, channels);
          let block: ArrayLike<number | bigint>;
          try {
            block = dataset.slice(sel) as ArrayLike<number | bigint>;
          } catch (e) {
            throw new CorruptData(`${where}: ${ref.url}#${ref.dataset}: voxels at [${slab.start}] do not read`, { cause: e });
          }
          const part = toXyzc(
            block,
            sel.map(([a, b]) => b - a),
            order,
            slab,
            channels,
            dataType,
          );
          copyRegion(part, slab, out, region, slab, channels);
        }
        return out;
      },
      close: () => file.close(),
    };
  },
};
