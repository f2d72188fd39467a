// gpu.js boundary-affinity kernel; same contract and bit-identical results as ../affinity.ts (it only
// selects values: labels are compared as chunk-local ids, affinities pass through float32 textures).
import type { GPU, IKernelRunShortcut } from 'gpu.js';
import { BoundaryInput, checkBoundaryInput } from '../affinity.js';
import { renumberLabels } from '../renumber.js';
import { copyRows, GpuContext, KERNEL_SETTINGS, zSlabs } from './context.js';

// One axis per call: (dx, dy, dz) is the step back along it. `halo` is 1 when the slab carries the
// slice below its first output slice, so z edges at the slab's start still see their neighbour.
function boundaryKernel(gpu: GPU): IKernelRunShortcut {
  return gpu.createKernel(`function (ids, aff, sx, sy, halo, dx, dy, dz) {
    const x = this.thread.x;
    const y = this.thread.y;
    const z = this.thread.z + halo;
    let r = -1.0;
    if (x >= dx && y >= dy && z >= dz) {
      const v = x + sx * (y + sy * z);
      const a = ids[v];
      const b = ids[v - (dx + sx * (dy + sy * dz))];
      if (a > 0.0 && b > 0.0 && a != b) {
        r = aff[v];
      }
    }
    return r;
  }`, KERNEL_SETTINGS);
}

export function gpuBoundaryAffinities(ctx: GpuContext, input: BoundaryInput): Float32Array {
  const n = checkBoundaryInput(input);
  const [sx, sy, sz] = input.shape;
  const slice = sx * sy;
  const ids = Float32Array.from(renumberLabels(input.labels).ids);
  const out = new Float32Array(3 * n);
  const kernel = ctx.kernel('boundary', boundaryKernel);
  for (let c = 0; c < 3; c++) {
    const step = [0, 0, 0];
    step[c] = 1;
    const aff = input.affinities.subarray(c * n, (c + 1) * n);
    for (const [z0, z1] of zSlabs(sz, slice)) {
      const halo = z0 > 0 ? 1 : 0;
      const from = slice * (z0 - halo), to = slice * z1;
      kernel.setOutput([sx, sy, z1 - z0]);
      const result = kernel(ids.subarray(from, to), aff.subarray(from, to), sx, sy, halo, step[0], step[1], step[2]);
      copyRows(result, out, c * n + slice * z0);
    }
  }
  return out;
}
