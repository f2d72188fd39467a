// Half-open voxel boxes [start, stop) and the chunk keys that name them.
import { InvalidInput } from './errors.js';

export type Vec3 = [number, number, number];

export interface Box {
  start: Vec3;
  stop: Vec3;
}

export function box(start: Vec3, stop: Vec3): Box {
  return { start: [...start], stop: [...stop] };
}

export function shapeOf(b: Box): Vec3 {
  return [b.stop[0] - b.start[0], b.stop[1] - b.start[1], b.stop[2] - b.start[2]];
}

export function voxelCount(b: Box): number {
  const [x, y, z] = shapeOf(b);
  return Math.max(0, x) * Math.max(0, y) * Math.max(0, z);
}

export function isEmpty(b: Box): boolean {
  return b.stop.some((s, i) => s <= b.start[i]);
}

/** The smallest box that holds all of `boxes` (at least one). */
export function union(boxes: Box[]): Box {
  return {
    start: [0, 1, 2].map((i) => Math.min(...boxes.map((b) => b.start[i]))) as Vec3,
    stop: [0, 1, 2].map((i) => Math.max(...boxes.map((b) => b.stop[i]))) as Vec3,
  };
}

export function intersect(a: Box, b: Box): Box {
  return {
    start: [0, 1, 2].map((i) => Math.max(a.start[i], b.start[i])) as Vec3,
    stop: [0, 1, 2].map((i) => Math.min(a.stop[i], b.stop[i])) as Vec3,
  };
}

export function contains(outer: Box, inner: Box): boolean {
  return [0, 1, 2].every((i) => outer.start[i] <= inner.start[i] && inner.stop[i] <= outer.stop[i]);
}

export function equals(a: Box, b: Box): boolean {
  return [0, 1, 2].every((i) => a.start[i] === b.start[i] && a.stop[i] === b.stop[i]);
}

/** The precomputed chunk key `x0-x1_y0-y1_z0-z1`. */
export function chunkKey(b: Box): string {
  return [0, 1, 2].map((i) => `${b.start[i]}-${b.stop[i]}`).join('_');
}

const KEY_PATTERN = /^(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)$/;

/**
 * Parses `x0-x1_y0-y1_z0-z1`, which must be canonical (as chunkKey writes it: no suffix, no leading
 * zeros, no "-0"): two spellings of one box would name two objects. `field` names the source in errors.
 */
export function parseChunkKey(key: string, field = 'chunk key'): Box {
  const m = KEY_PATTERN.exec(key);
  if (!m) throw new InvalidInput(`${field} "${key}" is not of the form x0-x1_y0-y1_z0-z1`);
  const n = m.slice(1).map(Number);
  const b = box([n[0], n[2], n[4]], [n[1], n[3], n[5]]);
  if (!n.every(Number.isSafeInteger)) throw new InvalidInput(`${field} "${key}" has a coordinate beyond 2^53`);
  if (chunkKey(b) !== key) throw new InvalidInput(`${field} "${key}" is not canonical (write it ${chunkKey(b)})`);
  if (isEmpty(b)) throw new InvalidInput(`${field} "${key}" is an empty box`);
  return b;
}

/** Whether `key` is a canonical, non-empty box key. */
export function isBoxKey(key: string): boolean {
  try {
    parseChunkKey(key);
    return true;
  } catch {
    return false;
  }
}

export function formatBox(b: Box): string {
  return `[${b.start.join(',')}]-[${b.stop.join(',')}]`;
}

interface ArrayView {
  buffer: ArrayBufferLike;
  byteOffset: number;
  byteLength: number;
  BYTES_PER_ELEMENT: number;
}

/** `rows` runs of `n` words, `from` advancing by `fromStride` words and `to` by `toStride`. */
function copyWordRows(from: Int32Array, to: Int32Array, i: number, j: number, n: number, rows: number, fromStride: number, toStride: number): void {
  for (let r = 0; r < rows; r++, i += fromStride, j += toStride) {
    let a = i,
      b = j;
    const end = i + n;
    for (; a + 4 <= end; a += 4, b += 4) {
      to[b] = from[a];
      to[b + 1] = from[a + 1];
      to[b + 2] = from[a + 2];
      to[b + 3] = from[a + 3];
    }
    for (; a < end; a++, b++) to[b] = from[a];
  }
}

/**
 * Copies the voxels of `region` from `src` (covering srcBox) into `dst` (covering dstBox); x-fastest,
 * with channels. Runs that are contiguous in both (whole rows, whole slices) go as one memcpy of
 * bytes (BigUint64Array's own set() is far slower); short rows, where making a subarray per row
 * costs more than the copy, go word by word.
 */
export function copyRegion(src: ArrayView, srcBox: Box, dst: ArrayView, dstBox: Box, region: Box, channels = 1): void {
  const [sx, sy, sz] = shapeOf(srcBox);
  const [dx, dy, dz] = shapeOf(dstBox);
  const [rx, ry, rz] = shapeOf(region);
  if (rx <= 0 || ry <= 0 || rz <= 0) return;
  const size = src.BYTES_PER_ELEMENT;
  const from = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  const to = new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength);
  // Rows of a run: one row, or the whole region's rows of a slice when both arrays' rows are exactly it.
  const wholeRows = rx === sx && rx === dx;
  const rowsPerRun = wholeRows ? ry : 1;
  const runBytes = rx * size * rowsPerRun;
  const byWords = runBytes < 1024 && runBytes % 4 === 0 && src.byteOffset % 4 === 0 && dst.byteOffset % 4 === 0;
  const fromWords = byWords ? new Int32Array(src.buffer, src.byteOffset, src.byteLength >> 2) : null;
  const toWords = byWords ? new Int32Array(dst.buffer, dst.byteOffset, dst.byteLength >> 2) : null;
  const ox = region.start[0] - srcBox.start[0],
    oy = region.start[1] - srcBox.start[1],
    oz = region.start[2] - srcBox.start[2];
  const px = region.start[0] - dstBox.start[0],
    py = region.start[1] - dstBox.start[1],
    pz = region.start[2] - dstBox.start[2];
  const srcRow = sx * size * rowsPerRun,
    dstRow = dx * size * rowsPerRun;
  for (let c = 0; c < channels; c++) {
    for (let z = 0; z < rz; z++) {
      let si = (ox + sx * (oy + sy * (oz + z + sz * c))) * size;
      let di = (px + dx * (py + dy * (pz + z + dz * c))) * size;
      if (fromWords && toWords && (si & 3) === 0 && (di & 3) === 0 && (srcRow & 3) === 0 && (dstRow & 3) === 0) {
        copyWordRows(fromWords, toWords, si >> 2, di >> 2, runBytes >> 2, Math.ceil(ry / rowsPerRun), srcRow >> 2, dstRow >> 2);
      } else {
        for (let y = 0; y < ry; y += rowsPerRun, si += srcRow, di += dstRow) to.set(from.subarray(si, si + runBytes), di);
      }
    }
  }
}
