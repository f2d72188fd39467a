// CPU downsampling kernels. Output voxel v takes the input voxels [v*f - phase, v*f - phase + f) that exist,
// so partial blocks at the volume border (and odd voxel offsets) are handled the same way everywhere.
//   image:        mean of the children, rounded half up for integer types (floor((2*sum + n) / (2*n)));
//                 float32 averages in float64, then rounds to float32.
//   segmentation: the most frequent child label; a tie goes to the smallest label.
// The readable loops below compute any set of output voxels; whole 2x2x2 and 2x2x1 blocks at phase 0
// (all but a border of at most one voxel per axis) go to the WebAssembly SIMD kernels instead
// (kernels/wasm.ts), which tests hold to these loops.
import { Vec3 } from '../common/box.js';
import { allocate, DataType, dataTypeOf, labelWords, TypedArray } from '../common/dtype.js';
import { runSlice, SliceKernel, wasmKernels } from '../wasm/kernels.js';

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

/** Which output voxels to compute: [x0, x1) x [y0, y1) x [z0, z1). */
type OutBox = [number, number, number, number, number, number];

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
  if (data.length !== shape[0] * shape[1] * shape[2] * channels)
    throw new Error(`downsample input has ${data.length} values, shape [${shape}] x ${channels} needs ${shape[0] * shape[1] * shape[2] * channels}`);
  return phase;
}

/** Mode downsampling works on uint32 or uint64 labels only. */
export function assertLabels(data: TypedArray): Uint32Array | BigUint64Array {
  if (!(data instanceof Uint32Array || data instanceof BigUint64Array)) {
    throw new Error(`mode downsampling needs uint32 or uint64 labels, not ${dataTypeOf(data)}`);
  }
  return data;
}

export interface DownsampleOptions {
  /** Skip the WebAssembly kernels (tests compare the two). */
  jsOnly?: boolean;
}

export function averageDownsample(input: DownsampleInput, opts: DownsampleOptions = {}): TypedArray {
  const phase = checkDownsample(input);
  const dtype: DataType = dataTypeOf(input.data);
  if (dtype === 'uint64') throw new Error('average downsampling of uint64 is not supported: use mode (segmentation)');
  const out = downsampledShape(input.shape, input.factor, phase);
  const result = allocate(dtype, out[0] * out[1] * out[2] * input.channels) as Exclude<TypedArray, BigUint64Array>;
  const kernel: SliceKernel | undefined =
    dtype === 'uint8' ? 'average_u8' : dtype === 'uint16' ? 'average_u16' : dtype === 'float32' ? 'average_f32' : undefined;
  const n = input.factor[2] === 2 ? 8 : 4;
  const extra = dtype === 'float32' ? n : Math.log2(n);
  const done = opts.jsOnly || !kernel ? null : wasmInterior(input, phase, out, result, kernel, extra);
  for (const box of remaining(out, done)) averageRange(input, phase, out, result, box);
  return result;
}

export function modeDownsample(input: DownsampleInput, opts: DownsampleOptions = {}): Uint32Array | BigUint64Array {
  const phase = checkDownsample(input);
  const data = assertLabels(input.data);
  const out = downsampledShape(input.shape, input.factor, phase);
  const result = allocate(dataTypeOf(data), out[0] * out[1] * out[2] * input.channels) as Uint32Array | BigUint64Array;
  const done = opts.jsOnly ? null : wasmInterior(input, phase, out, result, data instanceof BigUint64Array ? 'mode_u64' : 'mode_u32', undefined);
  for (const box of remaining(out, done)) modeRange({ ...input, data }, phase, out, result, box);
  return result;
}

const BLOCK_BYTES = 128 << 10;

/**
 * The whole 2x2x2 (2x2x1) blocks at phase 0, slice by slice in WebAssembly; returns the output box
 * they cover, or null when this input has none or the kernels are missing.
 */
function wasmInterior(input: DownsampleInput, phase: Vec3, out: Vec3, result: TypedArray, kernel: SliceKernel, extra: number | undefined): Vec3 | null {
  const {
    shape: [sx, sy, sz],
    factor,
    channels,
    data,
  } = input;
  const w = wasmKernels();
  if (!w || factor[0] !== 2 || factor[1] !== 2 || phase.some((p) => p !== 0)) return null;
  const fz = factor[2];
  const inner: Vec3 = [sx >> 1, sy >> 1, fz === 2 ? sz >> 1 : sz];
  if (inner.some((v) => v === 0)) return null;
  const slice = sx * sy,
    oslice = out[0] * out[1];
  // Output rows go in blocks whose input fits in a core's L2 cache: the kernel then reads what the copy
  // into its memory has just written, and the volume is read from RAM once.
  const rows = Math.max(1, Math.floor(BLOCK_BYTES / (4 * sx * data.BYTES_PER_ELEMENT)));
  for (let c = 0; c < channels; c++) {
    for (let z = 0; z < inner[2]; z++) {
      const a = (c * sz + fz * z) * slice,
        b = fz === 2 ? a + slice : a;
      const o = (c * out[2] + z) * oslice;
      for (let y0 = 0; y0 < inner[1]; y0 += rows) {
        const y1 = Math.min(inner[1], y0 + rows);
        const rowsA = data.subarray(a + 2 * y0 * sx, a + 2 * y1 * sx);
        const rowsB = b === a ? rowsA : data.subarray(b + 2 * y0 * sx, b + 2 * y1 * sx);
        runSlice(w, kernel, rowsA, rowsB, sx, inner[0], y1 - y0, result.subarray(o + y0 * out[0], o + y1 * out[0]), out[0], extra);
      }
    }
  }
  return inner;
}

/** The output boxes not in [0, done) (all of it when done is null): at most three border slabs. */
function remaining(out: Vec3, done: Vec3 | null): OutBox[] {
  if (!done) return [[0, out[0], 0, out[1], 0, out[2]]];
  const boxes: OutBox[] = [
    [done[0], out[0], 0, out[1], 0, out[2]],
    [0, done[0], done[1], out[1], 0, out[2]],
    [0, done[0], 0, done[1], done[2], out[2]],
  ];
  return boxes.filter((b) => b[0] < b[1] && b[2] < b[3] && b[4] < b[5]);
}

function averageRange(input: DownsampleInput, phase: Vec3, out: Vec3, result: Exclude<TypedArray, BigUint64Array>, [x0, x1, y0, y1, z0, z1]: OutBox): void {
  const { data, shape, channels, factor } = input;
  const [sx, sy, sz] = shape;
  const [ox, oy, oz] = out;
  const rx = childRanges(sx, factor[0], phase[0], ox),
    ry = childRanges(sy, factor[1], phase[1], oy),
    rz = childRanges(sz, factor[2], phase[2], oz);
  const src = data as Exclude<TypedArray, BigUint64Array>;
  const isFloat = src instanceof Float32Array;
  for (let c = 0; c < channels; c++) {
    const cBase = c * sx * sy * sz;
    for (let z = z0; z < z1; z++)
      for (let y = y0; y < y1; y++) {
        let o = x0 + ox * (y + oy * (z + oz * c));
        for (let x = x0; x < x1; x++) {
          let sum = 0,
            n = 0;
          for (let k = rz[2 * z]; k < rz[2 * z + 1]; k++)
            for (let j = ry[2 * y]; j < ry[2 * y + 1]; j++) {
              const row = cBase + sx * (j + sy * k);
              for (let i = rx[2 * x]; i < rx[2 * x + 1]; i++) sum += src[row + i];
              n += rx[2 * x + 1] - rx[2 * x];
            }
          result[o++] = isFloat ? sum / n : Math.floor((2 * sum + n) / (2 * n));
        }
      }
  }
}

function modeRange(
  input: DownsampleInput & { data: Uint32Array | BigUint64Array },
  phase: Vec3,
  out: Vec3,
  result: Uint32Array | BigUint64Array,
  [x0, x1, y0, y1, z0, z1]: OutBox,
): void {
  const { shape, channels, factor } = input;
  const { words: src, wordsPerLabel: w } = labelWords(input.data);
  const [sx, sy, sz] = shape;
  const [ox, oy, oz] = out;
  const rx = childRanges(sx, factor[0], phase[0], ox),
    ry = childRanges(sy, factor[1], phase[1], oy),
    rz = childRanges(sz, factor[2], phase[2], oz);
  const dst = labelWords(result).words;
  const lo = new Uint32Array(8),
    hi = new Uint32Array(8);
  for (let c = 0; c < channels; c++) {
    const cBase = c * sx * sy * sz;
    for (let z = z0; z < z1; z++)
      for (let y = y0; y < y1; y++) {
        let o = x0 + ox * (y + oy * (z + oz * c));
        for (let x = x0; x < x1; x++, o++) {
          let n = 0;
          for (let k = rz[2 * z]; k < rz[2 * z + 1]; k++)
            for (let j = ry[2 * y]; j < ry[2 * y + 1]; j++) {
              const row = cBase + sx * (j + sy * k);
              for (let i = rx[2 * x]; i < rx[2 * x + 1]; i++) {
                lo[n] = src[w * (row + i)];
                hi[n] = w === 2 ? src[w * (row + i) + 1] : 0;
                n++;
              }
            }
          // Most frequent of at most 8 labels; ties to the smallest.
          let best = 0,
            bestCount = 0;
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
        }
      }
  }
}
