// CPU downsampling kernels. Output voxel v takes the input voxels [v*f - phase, v*f - phase + f) that exist,
// so partial blocks at the volume border (and odd voxel offsets) are handled the same way everywhere.
//   image:        mean of the children, rounded half up for integer types (floor((2*sum + n) / (2*n)));
//                 float32 averages in float64, then rounds to float32.
//   segmentation: the most frequent child label; a tie goes to the smallest label.
import { Vec3 } from '../precomputed/box.js';
import { allocate, DataType, dataTypeOf, labelWords, TypedArray } from '../precomputed/dtype.js';

export interface DownsampleInput {
  data: TypedArray;
  /** [x, y, z] of `data`; channels follow as the slowest axis. */
  shape: Vec3;
  channels: number;
  /** Per axis 1 or 2. */
  factor: Vec3;
  /** How far `data[0]` sits past the start of its 2x block (0 or 1 per axis where factor is 2). */
  phase?: Vec3;
}

export function downsampledShape(shape: Vec3, factor: Vec3, phase: Vec3 = [0, 0, 0]): Vec3 {
  return shape.map((s, i) => Math.ceil((s + phase[i]) / factor[i])) as Vec3;
}

function childRanges(n: number, f: number, phase: number, out: number): Int32Array {
  // [start0, stop0, start1, stop1, ...] of the children of each output index along one axis.
  const r = new Int32Array(out * 2);
  for (let v = 0; v < out; v++) {
    r[2 * v] = Math.max(0, v * f - phase);
    r[2 * v + 1] = Math.min(n, v * f - phase + f);
  }
  return r;
}

export function checkDownsample(input: DownsampleInput): Vec3 {
  const { shape, channels, factor, data } = input;
  const phase = input.phase ?? [0, 0, 0];
  if (!factor.every((f) => f === 1 || f === 2)) throw new Error(`downsample factor [${factor}] must have components 1 or 2`);
  if (!phase.every((p, i) => p >= 0 && p < factor[i])) throw new Error(`downsample phase [${phase}] must lie in [0, factor)`);
  if (data.length !== shape[0] * shape[1] * shape[2] * channels) throw new Error(`downsample input has ${data.length} values, shape [${shape}] x ${channels} needs ${shape[0] * shape[1] * shape[2] * channels}`);
  return phase;
}

/** Mode downsampling works on uint32 or uint64 labels only. */
export function assertLabels(data: TypedArray): Uint32Array | BigUint64Array {
  if (!(data instanceof Uint32Array || data instanceof BigUint64Array)) {
    throw new Error(`mode downsampling needs uint32 or uint64 labels, not ${dataTypeOf(data)}`);
  }
  return data;
}

export function averageDownsample(input: DownsampleInput): TypedArray {
  const phase = checkDownsample(input);
  const { data, shape, channels, factor } = input;
  const dtype: DataType = dataTypeOf(data);
  if (dtype === 'uint64') throw new Error('average downsampling of uint64 is not supported: use mode (segmentation)');
  const out = downsampledShape(shape, factor, phase);
  const [sx, sy, sz] = shape;
  const [ox, oy, oz] = out;
  const rx = childRanges(sx, factor[0], phase[0], ox), ry = childRanges(sy, factor[1], phase[1], oy), rz = childRanges(sz, factor[2], phase[2], oz);
  const result = allocate(dtype, ox * oy * oz * channels) as Exclude<TypedArray, BigUint64Array>;
  const src = data as Exclude<TypedArray, BigUint64Array>;
  const isFloat = dtype === 'float32';
  let o = 0;
  for (let c = 0; c < channels; c++) {
    const cBase = c * sx * sy * sz;
    for (let z = 0; z < oz; z++) for (let y = 0; y < oy; y++) for (let x = 0; x < ox; x++) {
      let sum = 0, n = 0;
      for (let k = rz[2 * z]; k < rz[2 * z + 1]; k++) for (let j = ry[2 * y]; j < ry[2 * y + 1]; j++) {
        const row = cBase + sx * (j + sy * k);
        for (let i = rx[2 * x]; i < rx[2 * x + 1]; i++) sum += src[row + i];
        n += rx[2 * x + 1] - rx[2 * x];
      }
      result[o++] = isFloat ? sum / n : Math.floor((2 * sum + n) / (2 * n));
    }
  }
  return result;
}

export function modeDownsample(input: DownsampleInput): Uint32Array | BigUint64Array {
  const phase = checkDownsample(input);
  const { shape, channels, factor } = input;
  const data = assertLabels(input.data);
  const { words: src, wordsPerLabel: w } = labelWords(data);
  const out = downsampledShape(shape, factor, phase);
  const [sx, sy, sz] = shape;
  const [ox, oy, oz] = out;
  const rx = childRanges(sx, factor[0], phase[0], ox), ry = childRanges(sy, factor[1], phase[1], oy), rz = childRanges(sz, factor[2], phase[2], oz);
  const result = allocate(dataTypeOf(data), ox * oy * oz * channels) as Uint32Array | BigUint64Array;
  const dst = labelWords(result).words;
  const lo = new Uint32Array(8), hi = new Uint32Array(8);
  let o = 0;
  for (let c = 0; c < channels; c++) {
    const cBase = c * sx * sy * sz;
    for (let z = 0; z < oz; z++) for (let y = 0; y < oy; y++) for (let x = 0; x < ox; x++) {
      let n = 0;
      for (let k = rz[2 * z]; k < rz[2 * z + 1]; k++) for (let j = ry[2 * y]; j < ry[2 * y + 1]; j++) {
        const row = cBase + sx * (j + sy * k);
        for (let i = rx[2 * x]; i < rx[2 * x + 1]; i++) {
          lo[n] = src[w * (row + i)];
          hi[n] = w === 2 ? src[w * (row + i) + 1] : 0;
          n++;
        }
      }
      // Most frequent of at most 8 labels; ties to the smallest.
      let best = 0, bestCount = 0;
      for (let a = 0; a < n; a++) {
        let count = 0;
        for (let b = 0; b < n; b++) if (lo[a] === lo[b] && hi[a] === hi[b]) count++;
        if (count > bestCount || (count === bestCount && (hi[a] < hi[best] || (hi[a] === hi[best] && lo[a] < lo[best])))) {
          best = a;
          bestCount = count;
        }
        if (bestCount > n / 2) break;
      }
      dst[w * o] = lo[best];
      if (w === 2) dst[w * o + 1] = hi[best];
      o++;
    }
  }
  return result;
}
