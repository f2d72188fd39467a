// gpu.js downsampling kernels; same contract and results as ../downsample.ts.
// Integer images: the sum of at most 8 uint16 values is exact in float32, and the half-up quotient is
// corrected by integer checks, since GPU division need not round correctly. float32 images are summed
// in float32 (the CPU sums in float64): they agree within 2e-6 of the largest child's magnitude.
// Segmentation: labels become chunk-local ids (../renumber.ts), the mode is taken on ids, mapped back.
import type { GPU, IKernelRunShortcut } from 'gpu.js';
import { Vec3 } from '../../precomputed/box.js';
import { allocate, dataTypeOf, TypedArray } from '../../precomputed/dtype.js';
import { assertLabels, averageDownsample, checkDownsample, DownsampleInput, downsampledShape } from '../downsample.js';
import { labelsOfIds, renumberLabels } from '../renumber.js';
import { copyRows, GpuContext, KERNEL_SETTINGS, zSlabs } from './context.js';


function averageKernel(gpu: GPU): IKernelRunShortcut {
  return gpu.createKernel(`function (data, sx, sy, sz, fx, fy, fz, bx, by, bz, isFloat) {
    let sum = 0.0;
    let n = 0.0;
    for (let dz = 0; dz < 2; dz++) {
      for (let dy = 0; dy < 2; dy++) {
        for (let dx = 0; dx < 2; dx++) {
          const ix = this.thread.x * fx + dx + bx;
          const iy = this.thread.y * fy + dy + by;
          const iz = this.thread.z * fz + dz + bz;
          if (dx < fx && dy < fy && dz < fz && ix >= 0 && ix < sx && iy >= 0 && iy < sy && iz >= 0 && iz < sz) {
            sum += data[ix + sx * (iy + sy * iz)];
            n += 1.0;
          }
        }
      }
    }
    if (isFloat > 0.0) {
      return sum / n;
    }
    const num = 2.0 * sum + n;
    const den = 2.0 * n;
    let q = Math.floor(num / den);
    if (q * den > num) {
      q -= 1.0;
    }
    if ((q + 1.0) * den <= num) {
      q += 1.0;
    }
    return q;
  }`, KERNEL_SETTINGS);
}

// The 8 children of an output voxel, unrolled: child k is offset by the bits of k (x, y, z).
const CHILDREN = Array.from({ length: 8 }, (_, k) => [k & 1, (k >> 1) & 1, (k >> 2) & 1]);

function modeKernel(gpu: GPU): IKernelRunShortcut {
  const reads = CHILDREN.map(([dx, dy, dz], k) => `
    let c${k} = -1.0;
    if (${dx}.0 < fx && ${dy}.0 < fy && ${dz}.0 < fz && x0 + ${dx}.0 >= 0.0 && x0 + ${dx}.0 < sx && y0 + ${dy}.0 >= 0.0 && y0 + ${dy}.0 < sy && z0 + ${dz}.0 >= 0.0 && z0 + ${dz}.0 < sz) {
      c${k} = ids[(x0 + ${dx}.0) + sx * ((y0 + ${dy}.0) + sy * (z0 + ${dz}.0))];
    }`).join('');
  const votes = CHILDREN.map((_, k) => `
    if (c${k} >= 0.0) {
      let count${k} = 0.0;
      ${CHILDREN.map((__, j) => `if (c${j} == c${k}) { count${k} += 1.0; }`).join('\n      ')}
      if (count${k} > bestCount || (count${k} == bestCount && c${k} < best)) {
        best = c${k};
        bestCount = count${k};
      }
    }`).join('');
  return gpu.createKernel(`function (ids, sx, sy, sz, fx, fy, fz, bx, by, bz) {
    const x0 = this.thread.x * fx + bx;
    const y0 = this.thread.y * fy + by;
    const z0 = this.thread.z * fz + bz;
    ${reads}
    let best = -1.0;
    let bestCount = 0.0;
    ${votes}
    return best;
  }`, KERNEL_SETTINGS);
}

/** Runs `kernel` over output z slabs, each reading only the input slices its children lie in. */
function runSlabs(kernel: IKernelRunShortcut, input: DownsampleInput, phase: Vec3, channelData: (c: number) => ArrayLike<number>, out: { set(a: ArrayLike<number>, o: number): void }, extra: number[]): void {
  const { shape, channels, factor } = input;
  const [sx, sy, sz] = shape;
  const [ox, oy, oz] = downsampledShape(shape, factor, phase);
  const perSlice = ox * oy * factor[2] * 8; // bound the input slab to ~4 Mi voxels
  let offset = 0;
  for (let c = 0; c < channels; c++) {
    const data = channelData(c);
    for (const [z0, z1] of zSlabs(oz, Math.max(sx * sy, perSlice))) {
      const iz0 = Math.max(0, z0 * factor[2] - phase[2]);
      const iz1 = Math.min(sz, z1 * factor[2] - phase[2]);
      const slab = (data as Float32Array).subarray(sx * sy * iz0, sx * sy * iz1);
      kernel.setOutput([ox, oy, z1 - z0]);
      const result = kernel(slab, sx, sy, iz1 - iz0, factor[0], factor[1], factor[2], -phase[0], -phase[1], z0 * factor[2] - phase[2] - iz0, ...extra);
      offset = copyRows(result, out, offset);
    }
  }
}

export function gpuAverageDownsample(ctx: GpuContext, input: DownsampleInput): TypedArray {
  const dtype = dataTypeOf(input.data);
  // uint32 sums are not exact in float32: those (rare) images stay on the cpu kernel, same result.
  if (dtype === 'uint32' || dtype === 'uint64') return averageDownsample(input);
  const phase = checkDownsample(input);
  const [ox, oy, oz] = downsampledShape(input.shape, input.factor, phase);
  const out = allocate(dtype, ox * oy * oz * input.channels) as Exclude<TypedArray, BigUint64Array>;
  const n = input.shape[0] * input.shape[1] * input.shape[2];
  const data = input.data as Exclude<TypedArray, BigUint64Array>;
  runSlabs(ctx.kernel('average', averageKernel), input, phase, (c) => data.subarray(c * n, (c + 1) * n), out, [dtype === 'float32' ? 1 : 0]);
  return out;
}

export function gpuModeDownsample(ctx: GpuContext, input: DownsampleInput): Uint32Array | BigUint64Array {
  const phase = checkDownsample(input);
  const table = renumberLabels(assertLabels(input.data));
  if (table.labels.length / table.wordsPerLabel > 1 << 24) throw new Error('gpu mode downsample: more than 2^24 distinct labels in one chunk');
  const ids = Float32Array.from(table.ids);
  const [ox, oy, oz] = downsampledShape(input.shape, input.factor, phase);
  const outIds = new Uint32Array(ox * oy * oz * input.channels);
  const n = input.shape[0] * input.shape[1] * input.shape[2];
  runSlabs(ctx.kernel('mode', modeKernel), input, phase, (c) => ids.subarray(c * n, (c + 1) * n), outIds, []);
  return labelsOfIds(outIds, table);
}
