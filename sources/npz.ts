// numpy .npy / .npz (np.save, np.savez, np.savez_compressed) reading, and a plain .npz writer for build chunks.
// Axis order: an array indexed arr[x, y, z] (or arr[x, y, z, c]) is the default, as CloudVolume writes them;
// `axes: 'zyx'` reads arrays indexed arr[z, y, x] (or arr[c, z, y, x]), as stacks of images usually are.
// Either way the result is x-fastest, whatever the array's memory order.
import { crc32, inflateRawSync } from 'node:zlib';
import { CorruptData, InvalidInput } from '../common/errors.js';
import { shapeOf, Vec3 } from '../common/box.js';
import { allocate, DataType, dataTypeOf, fromBytes, toBytes, TypedArray } from '../common/dtype.js';
import { BuildFormat } from './format.js';
import { buildDataBytes, readBuildFile } from './read-file.js';

export interface NpyArray {
  dtype: DataType;
  /** numpy's shape, in numpy's axis order. */
  shape: number[];
  fortranOrder: boolean;
  data: TypedArray;
}

const DESCR_TO_DTYPE: Record<string, DataType> = {
  '|u1': 'uint8',
  '<u1': 'uint8',
  '|b1': 'uint8',
  '<u2': 'uint16',
  '<u4': 'uint32',
  '<u8': 'uint64',
  '<f4': 'float32',
};

export function parseNpy(bytes: Uint8Array, what = 'npy'): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 12 || !magic.every((b, i) => bytes[i] === b)) throw new CorruptData(`${what}: not a .npy array (bad magic)`);
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = (major === 1 ? 10 : 12) + headerLength;
  if (dataStart > bytes.length) throw new CorruptData(`${what}: header runs past the end`);
  const header = new TextDecoder('latin1').decode(bytes.subarray(major === 1 ? 10 : 12, dataStart));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new CorruptData(`${what}: malformed header ${header.trim()}`);
  const dtype = DESCR_TO_DTYPE[descr];
  if (!dtype) throw new InvalidInput(`${what}: dtype '${descr}' is not supported (use little-endian uint8, uint16, uint32, uint64 or float32)`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const body = bytes.subarray(dataStart);
  const size = toBytes(allocate(dtype, 1)).byteLength;
  if (body.byteLength !== count * size)
    throw new CorruptData(`${what}: ${body.byteLength} data bytes, expected ${count * size} for shape (${shape}) of ${descr}`);
  // A view, not a copy, wherever the data happens to be aligned.
  return { dtype, shape, fortranOrder: fortran === 'True', data: fromBytes(dtype, body) };
}

interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  dataStart: number;
}

/**
 * The entries of a zip archive (stored or deflated, zip64 aware), as numpy writes them: names and
 * where their bytes lie, nothing inflated yet. Every offset is checked against the file's length.
 */
export function zipEntries(bytes: Uint8Array, what = 'zip'): ZipEntry[] {
  try {
    return readCentralDirectory(bytes, what);
  } catch (e) {
    if (e instanceof CorruptData) throw e;
    // A DataView read out of bounds: an offset in the archive points outside it.
    throw new CorruptData(`${what}: corrupt zip archive (${(e as Error).message})`, { cause: e });
  }
}

function readCentralDirectory(bytes: Uint8Array, what: string): ZipEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const corrupt = (why: string) => new CorruptData(`${what}: corrupt zip archive (${why})`);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw corrupt('no end-of-central-directory record');
  let entries = view.getUint16(eocd + 10, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if ((entries === 0xffff || cdOffset === 0xffffffff) && eocd >= 20 && view.getUint32(eocd - 20, true) === 0x07064b50) {
    const z64 = Number(view.getBigUint64(eocd - 12, true));
    if (view.getUint32(z64, true) !== 0x06064b50) throw corrupt('bad zip64 end record');
    entries = Number(view.getBigUint64(z64 + 32, true));
    cdOffset = Number(view.getBigUint64(z64 + 48, true));
  }
  const out: ZipEntry[] = [];
  let p = cdOffset;
  for (let e = 0; e < entries; e++) {
    if (p + 46 > bytes.length || view.getUint32(p, true) !== 0x02014b50) throw corrupt(`central directory entry ${e} is missing`);
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    let compressedSize = view.getUint32(p + 20, true);
    let size = view.getUint32(p + 24, true);
    const nameLength = view.getUint16(p + 28, true),
      extraLength = view.getUint16(p + 30, true),
      commentLength = view.getUint16(p + 32, true);
    let localOffset = view.getUint32(p + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLength));
    // zip64 extra field: the 64-bit values of whichever fields are 0xffffffff, in this order.
    for (let x = p + 46 + nameLength; x < p + 46 + nameLength + extraLength;) {
      const id = view.getUint16(x, true),
        len = view.getUint16(x + 2, true);
      if (id === 0x0001) {
        let q = x + 4;
        if (size === 0xffffffff) {
          size = Number(view.getBigUint64(q, true));
          q += 8;
        }
        if (compressedSize === 0xffffffff) {
          compressedSize = Number(view.getBigUint64(q, true));
          q += 8;
        }
        if (localOffset === 0xffffffff) {
          localOffset = Number(view.getBigUint64(q, true));
        }
      }
      x += 4 + len;
    }
    if (localOffset + 30 > bytes.length || view.getUint32(localOffset, true) !== 0x04034b50) throw corrupt(`local header of ${name} is missing`);
    const dataStart = localOffset + 30 + view.getUint16(localOffset + 26, true) + view.getUint16(localOffset + 28, true);
    if (dataStart + compressedSize > bytes.length) throw corrupt(`${name} runs past the end`);
    if (method !== 0 && method !== 8) throw corrupt(`${name} uses compression method ${method}; only stored and deflate are supported`);
    out.push({ name, method, crc, compressedSize, size, dataStart });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return out;
}

/** An entry's bytes, inflated no further than its declared size, checked against its CRC. */
function entryBytes(bytes: Uint8Array, entry: ZipEntry, what: string): Uint8Array {
  const corrupt = (why: string, cause?: unknown) => new CorruptData(`${what}: corrupt zip archive (${why})`, { cause });
  const raw = bytes.subarray(entry.dataStart, entry.dataStart + entry.compressedSize);
  let data: Uint8Array;
  if (entry.method === 0) data = raw;
  else {
    try {
      data = inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size) });
    } catch (err) {
      throw corrupt(`${entry.name}: ${(err as Error).message}`, err);
    }
  }
  if (data.length !== entry.size || crc32(data) !== entry.crc) throw corrupt(`${entry.name} fails its size or CRC check`);
  return data;
}

/** Every entry of a zip archive, inflated (small archives: tests). */
export function readZip(bytes: Uint8Array, what = 'zip'): Map<string, Uint8Array> {
  return new Map(zipEntries(bytes, what).map((e) => [e.name, entryBytes(bytes, e, what)]));
}

export type AxisOrder = 'xyz' | 'zyx';

export interface Volume4 {
  data: TypedArray;
  shape: Vec3;
  channels: number;
}

/**
 * The array `name` (default: 'data' if present, else the first) of an .npz, or a bare .npy, as an
 * x-fastest volume [x, y, z, c].
 */
export function readNpzVolume(bytes: Uint8Array, opts: { axes?: AxisOrder; name?: string; what?: string; maxBytes?: number } = {}): Volume4 {
  const what = opts.what ?? 'npz';
  let array: NpyArray;
  if (bytes[0] === 0x93) array = parseNpy(bytes, what);
  else {
    const entries = zipEntries(bytes, what);
    const names = entries.map((e) => e.name);
    const wanted = opts.name ?? (names.includes('data.npy') ? 'data' : names[0]?.replace(/\.npy$/, ''));
    const entry = entries.find((e) => e.name === `${wanted}.npy`);
    if (!entry) throw new InvalidInput(`${what}: no array named '${wanted}' (has ${names.join(', ') || 'none'})`);
    // The declared size, checked before anything is inflated (an .npy header is at most 64 KiB + 12).
    if (opts.maxBytes !== undefined && entry.size > opts.maxBytes + 65_548) {
      throw new CorruptData(`${what}: array '${wanted}' declares ${entry.size} bytes, more than the ${opts.maxBytes} bytes of data expected`);
    }
    array = parseNpy(entryBytes(bytes, entry, what), `${what}:${wanted}`);
  }
  return toXyzc(array, opts.axes ?? 'xyz', what);
}

function toXyzc(a: NpyArray, axes: AxisOrder, what: string): Volume4 {
  if (a.shape.length !== 3 && a.shape.length !== 4) throw new InvalidInput(`${what}: array has ${a.shape.length} dimensions (${a.shape}); expected 3 or 4`);
  // Name each numpy axis by its role; then the memory strides tell how to gather x-fastest.
  const roles = axes === 'xyz' ? ['x', 'y', 'z', 'c'] : a.shape.length === 4 ? ['c', 'z', 'y', 'x'] : ['z', 'y', 'x'];
  const dims = a.shape.length;
  const strides = new Array<number>(dims);
  let s = 1;
  const memoryOrder = a.fortranOrder ? [...Array(dims).keys()] : [...Array(dims).keys()].reverse();
  for (const i of memoryOrder) {
    strides[i] = s;
    s *= a.shape[i];
  }
  const sizeOf = (r: string) => {
    const i = roles.indexOf(r);
    return i >= 0 && i < dims ? a.shape[i] : 1;
  };
  const strideOf = (r: string) => {
    const i = roles.indexOf(r);
    return i >= 0 && i < dims ? strides[i] : 0;
  };
  const shape: Vec3 = [sizeOf('x'), sizeOf('y'), sizeOf('z')];
  const channels = sizeOf('c');
  const [tx, ty, tz, tc] = ['x', 'y', 'z', 'c'].map(strideOf);
  if (tx === 1 && ty === shape[0] && tz === shape[0] * shape[1]) return { data: a.data, shape, channels };
  const out = allocate(a.dtype, a.data.length) as any;
  const src = a.data as any;
  let o = 0;
  for (let c = 0; c < channels; c++)
    for (let z = 0; z < shape[2]; z++)
      for (let y = 0; y < shape[1]; y++) {
        const base = c * tc + z * tz + y * ty;
        for (let x = 0; x < shape[0]; x++) out[o++] = src[base + x * tx];
      }
  return { data: out, shape, channels };
}

const DTYPE_TO_DESCR: Record<DataType, string> = { uint8: '|u1', uint16: '<u2', uint32: '<u4', uint64: '<u8', float32: '<f4' };

/** An .npy of an x-fastest [x, y, z(, c)] volume, written Fortran-ordered with shape (x, y, z[, c]). */
export function encodeNpy(data: TypedArray, shape: number[]): Uint8Array {
  let header = `{'descr': '${DTYPE_TO_DESCR[dataTypeOf(data)]}', 'fortran_order': True, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = new TextEncoder().encode(header);
  const out = new Uint8Array(10 + head.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, head.length, true);
  out.set(head, 10);
  out.set(toBytes(data), 10 + head.length);
  return out;
}

/**
 * A stored (uncompressed) .npz holding the given .npy arrays, as np.savez writes; each local header
 * is padded (an extra field) so that the array data starts 64-byte aligned in the file: a reader can
 * then view it in place instead of copying it to align it.
 */
export function encodeNpz(arrays: Record<string, Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, npy] of Object.entries(arrays)) {
    const fileName = new TextEncoder().encode(`${name}.npy`);
    const crc = crc32(npy);
    // .npy headers end 64-aligned from the .npy's start; an extra field needs at least its 4-byte header.
    let pad = (64 - ((offset + 30 + fileName.length) % 64)) % 64;
    if (pad > 0 && pad < 4) pad += 64;
    const local = new Uint8Array(30 + fileName.length + pad);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, npy.length, true);
    lv.setUint32(22, npy.length, true);
    lv.setUint16(26, fileName.length, true);
    lv.setUint16(28, pad, true);
    local.set(fileName, 30);
    if (pad) {
      lv.setUint16(30 + fileName.length, 0xd197, true);
      lv.setUint16(32 + fileName.length, pad - 4, true);
    } // an id no zip tool defines
    const entry = new Uint8Array(46 + fileName.length);
    const cv = new DataView(entry.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, npy.length, true);
    cv.setUint32(24, npy.length, true);
    cv.setUint16(28, fileName.length, true);
    cv.setUint32(42, offset, true);
    entry.set(fileName, 46);
    parts.push(local, npy);
    central.push(entry);
    offset += local.length + npy.length;
  }
  const cdSize = central.reduce((a, b) => a + b.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, central.length, true);
  ev.setUint16(10, central.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const all = [...parts, ...central, end];
  const out = new Uint8Array(all.reduce((a, b) => a + b.length, 0));
  let p = 0;
  for (const part of all) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

/** Build chunks as `<box>.npz` (or a bare .npy): the array 'data' (or the first), axes as the task says. */
export const npzFormat: BuildFormat = {
  suffix: '.npz',
  // The data, an .npy header (at most 64 KiB) and the zip records.
  maxBytes: (dataBytes) => dataBytes + 131_072,
  read: async (r) => {
    const shape = shapeOf(r.box);
    const v = readNpzVolume(await readBuildFile(r, npzFormat), { axes: r.axes, what: r.where, maxBytes: buildDataBytes(r) });
    if (v.shape.some((s, i) => s !== shape[i]) || v.channels !== r.channels) {
      throw new InvalidInput(
        `${r.where}: array has shape [${v.shape}] x ${v.channels} channel(s), but its name says [${shape}] and the layer has ${r.channels} channel(s)`,
      );
    }
    return v.data;
  },
};
