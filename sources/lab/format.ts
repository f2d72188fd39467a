// The contract of a lab data format (TIFF, HDF5, zarr, N5): a source opened from a URL that reads any
// region of its volume, by ranged reads where the format allows. One module per format, listed in
// sources/lab/registry.ts. Regions are in the source's own voxels, from 0 at its first voxel; the
// voxels come back x fastest [x, y, z, c], as digest holds them.
import { Box, shapeOf, Vec3, voxelCount } from '../../common/box.js';
import { allocate, DataType, TypedArray } from '../../common/dtype.js';
import { InvalidInput } from '../../common/errors.js';

export interface LabRef {
  /** The file or directory (zarr/N5 container, TIFF stack) URL. */
  url: string;
  /** HDF5: the dataset path; zarr/N5: the array's path inside the container (default: the URL is the array). */
  dataset?: string;
  /** OME-Zarr multiscales: the level (0: full resolution). */
  level?: number;
  /** The array's axes, slowest first (C order), from x, y, z and c: where the file does not say. Default: zyx, czyx for 4D. */
  axes?: string;
}

export interface LabVolume {
  /** x, y, z voxels. */
  shape: Vec3;
  dataType: DataType;
  channels: number;
  /** nm per voxel, x y z, where the file says. */
  resolution?: Vec3;
  /** The first voxel's position in voxels, where the file says (OME-Zarr translation, N5 offset). */
  offset?: Vec3;
  /** The voxels of `region` (inside [0, shape)), x fastest [x, y, z, c]. */
  read(region: Box): Promise<TypedArray>;
  close?(): void;
}

export interface LabFormat {
  open(ref: LabRef, where: string): Promise<LabVolume>;
}

/** The numpy-style dtypes digest holds, by the names zarr, N5 and HDF5 libraries give them. */
export function labDataType(name: string, where: string): DataType {
  const n = name.replace(/^[<|=]/, '').toLowerCase();
  const known: Record<string, DataType> = {
    u1: 'uint8',
    uint8: 'uint8',
    u2: 'uint16',
    uint16: 'uint16',
    u4: 'uint32',
    uint32: 'uint32',
    u8: 'uint64',
    uint64: 'uint64',
    f4: 'float32',
    float32: 'float32',
  };
  const t = known[n];
  if (!t) throw new InvalidInput(`${where}: data type ${name} is not one a precomputed layer holds (uint8, uint16, uint32, uint64, float32)`);
  return t;
}

/**
 * Where x, y, z and c sit among an array's dimensions (slowest first), checked: each of x, y, z once,
 * c at most once, nothing else (a dimension of extent 1 named `t` may be given as well and is dropped).
 */
export function axisOrder(axes: string, rank: number, where: string): string {
  const a = axes.toLowerCase();
  const ok = a.length === rank && [...'xyz'].every((d) => a.split(d).length === 2) && [...a].every((d) => 'xyzct'.includes(d)) && a.split('c').length <= 2;
  if (!ok) throw new InvalidInput(`${where}: axes "${axes}" must name x, y and z once each (and c at most once) for its ${rank} dimensions`);
  return a;
}

/** The default axis order of a C-order array of this rank: zyx, czyx. */
export function defaultAxes(rank: number, where: string): string {
  if (rank === 3) return 'zyx';
  if (rank === 4) return 'czyx';
  throw new InvalidInput(`${where}: a ${rank}-dimensional array needs its axes given (3 or 4 are read as zyx / czyx)`);
}

/**
 * Copies a C-order block (`dims`, slowest first, named by `axes`) into x-fastest [x, y, z, c] order:
 * the whole block is `region` in x, y, z and every channel.
 */
export function toXyzc(block: ArrayLike<number | bigint>, dims: number[], axes: string, region: Box, channels: number, dataType: DataType): TypedArray {
  const strides = new Array<number>(dims.length);
  for (let d = dims.length - 1, s = 1; d >= 0; d--) {
    strides[d] = s;
    s *= dims[d];
  }
  return toXyzcStrided(block, strides, axes, region, channels, dataType);
}

/** toXyzc of a block with its own element strides per dimension (slowest first in `axes`). */
function toXyzcStrided(block: ArrayLike<number | bigint>, strides: number[], axes: string, region: Box, channels: number, dataType: DataType): TypedArray {
  const [sx, sy, sz] = shapeOf(region);
  const out = allocate(dataType, voxelCount(region) * channels);
  const stride = (name: string) => (axes.includes(name) ? strides[axes.indexOf(name)] : 0);
  const [tx, ty, tz, tc] = ['x', 'y', 'z', 'c'].map(stride);
  // Already x fastest (a C-order z, y, x array, channels slowest): one copy.
  const identity = tx === 1 && (sy === 1 || ty === sx) && (sz === 1 || tz === sx * sy) && (channels === 1 || tc === sx * sy * sz);
  if (identity && ArrayBuffer.isView(block) && block.constructor === out.constructor) {
    (out as Uint8Array).set((block as unknown as Uint8Array).subarray(0, out.length));
    return out;
  }
  const src = block as ArrayLike<number> & ArrayLike<bigint>;
  const dst = out as unknown as { [i: number]: number | bigint };
  let i = 0;
  for (let c = 0; c < channels; c++)
    for (let z = 0; z < sz; z++)
      for (let y = 0; y < sy; y++) {
        let o = c * tc + z * tz + y * ty;
        for (let x = 0; x < sx; x++, o += tx) dst[i++] = src[o];
      }
  return out;
}

/** The x, y, z and c extents of an array's dimensions named by `axes`. */
export function xyzcShape(dims: number[], axes: string): { shape: Vec3; channels: number } {
  const at = (name: string) => (axes.includes(name) ? dims[axes.indexOf(name)] : 1);
  return { shape: [at('x'), at('y'), at('z')], channels: at('c') };
}

/** The selection along each dimension (slowest first) of `region` and all channels. */
export function selection(region: Box, axes: string, channels: number): [number, number][] {
  return [...axes].map((d) => {
    const i = 'xyz'.indexOf(d);
    return i >= 0 ? [region.start[i], region.stop[i]] : d === 'c' ? [0, channels] : [0, 1];
  });
}

/** nm per unit of OME-Zarr / N5 spatial units (unknown units: undefined). */
export function nanometres(unit: string | undefined): number | undefined {
  if (unit === undefined || unit === '') return undefined;
  const u = unit.toLowerCase();
  const table: Record<string, number> = {
    nm: 1,
    nanometer: 1,
    nanometre: 1,
    um: 1e3,
    µm: 1e3,
    micrometer: 1e3,
    micrometre: 1e3,
    micron: 1e3,
    mm: 1e6,
    millimeter: 1e6,
    angstrom: 0.1,
    pm: 1e-3,
    picometer: 1e-3,
  };
  return table[u];
}
