// gpu.js marching-cubes scan; same contract and results as ../marching-cubes-scan.ts.
// A two-level scan: the GPU computes each cube's case and triangle count and the exclusive prefix
// sum of counts within its x row (blocks of 16, then block totals); the CPU adds each row's base in
// one pass, in uint32, since a whole-volume sum could exceed float32's exact range (2^24).
import type { GPU, IKernelRunShortcut, Texture } from 'gpu.js';
import { Vec3 } from '../../precomputed/box.js';
import { CASE_TRIANGLE_COUNTS } from '../marching-cubes-table.js';
import { cubesOf, MarchingCubesScan } from '../marching-cubes-scan.js';
import { GpuContext, KERNEL_SETTINGS, zSlabs } from './context.js';

const BLOCK = 16;

// case + 256 * count, per cube; the slab holds the cubes' corner slices (one more than its cubes).
function caseKernel(gpu: GPU): IKernelRunShortcut {
  const corner = (bit: number, dx: number, dy: number, dz: number) =>
    `if (mask[(x + ${dx}) + sx * ((y + ${dy}) + sy * (z + ${dz}))] > 0.0) { c += ${bit}.0; }`;
  return gpu.createKernel(`function (mask, sx, sy) {
    const x = this.thread.x;
    const y = this.thread.y;
    const z = this.thread.z;
    let c = 0.0;
    ${corner(1, 0, 0, 0)}
    ${corner(2, 1, 0, 0)}
    ${corner(4, 1, 1, 0)}
    ${corner(8, 0, 1, 0)}
    ${corner(16, 0, 0, 1)}
    ${corner(32, 1, 0, 1)}
    ${corner(64, 1, 1, 1)}
    ${corner(128, 0, 1, 1)}
    return c + 256.0 * this.constants.counts[c];
  }`, { ...KERNEL_SETTINGS, pipeline: true, immutable: true, constants: { counts: Array.from(CASE_TRIANGLE_COUNTS) } });
}

// Triangles in each block of BLOCK cubes along x.
function blockKernel(gpu: GPU): IKernelRunShortcut {
  return gpu.createKernel(`function (packed, cx) {
    let s = 0.0;
    for (let k = 0; k < ${BLOCK}; k++) {
      const x = this.thread.x * ${BLOCK} + k;
      if (x < cx) {
        s += Math.floor(packed[this.thread.z][this.thread.y][x] / 256.0);
      }
    }
    return s;
  }`, { ...KERNEL_SETTINGS, pipeline: true, immutable: true });
}

// Exclusive prefix within the row (earlier blocks' totals, then earlier cubes of this block), returned
// as case + 256 * prefix so one readback carries both; exact while prefix < 65536 (rows < 13000 cubes).
function rowScanKernel(gpu: GPU): IKernelRunShortcut {
  return gpu.createKernel(`function (packed, blocks) {
    const x = this.thread.x;
    const own = packed[this.thread.z][this.thread.y][x];
    const block = Math.floor(x / ${BLOCK});
    let s = 0.0;
    for (let b = 0; b < block; b++) {
      s += blocks[this.thread.z][this.thread.y][b];
    }
    for (let k = block * ${BLOCK}; k < x; k++) {
      s += Math.floor(packed[this.thread.z][this.thread.y][k] / 256.0);
    }
    return (own - 256.0 * Math.floor(own / 256.0)) + 256.0 * s;
  }`, KERNEL_SETTINGS);
}

export function gpuMarchingCubesScan(ctx: GpuContext, mask: Uint8Array, shape: Vec3): MarchingCubesScan {
  const cubes = cubesOf(mask, shape);
  const [sx, sy] = shape;
  const [cx, cy, cz] = cubes;
  const cases = new Uint8Array(cx * cy * cz);
  const offsets = new Uint32Array(cases.length + 1);
  if (cases.length === 0) return { cubes, cases, offsets };
  if (cx > 13000) throw new Error(`gpu marching-cubes scan: rows of ${cx} cubes exceed 13000`);
  const caseK = ctx.kernel('mc-case', caseKernel), blockK = ctx.kernel('mc-block', blockKernel), rowK = ctx.kernel('mc-row', rowScanKernel);
  const blocksPerRow = Math.ceil(cx / BLOCK);
  let i = 0, total = 0;
  for (const [z0, z1] of zSlabs(cz, sx * sy)) {
    const slab = mask.subarray(sx * sy * z0, sx * sy * (z1 + 1));
    caseK.setOutput([cx, cy, z1 - z0]);
    const packed = caseK(slab, sx, sy) as Texture;
    blockK.setOutput([blocksPerRow, cy, z1 - z0]);
    const blocks = blockK(packed, cx) as Texture;
    rowK.setOutput([cx, cy, z1 - z0]);
    const scanned = rowK(packed, blocks) as Float32Array[][];
    packed.delete();
    blocks.delete();
    for (let z = 0; z < z1 - z0; z++) for (let y = 0; y < cy; y++) {
      const row = scanned[z][y];
      for (let x = 0; x < cx; x++, i++) {
        const c = row[x] % 256;
        cases[i] = c;
        offsets[i] = total + (row[x] - c) / 256;
      }
      total += (row[cx - 1] - cases[i - 1]) / 256 + CASE_TRIANGLE_COUNTS[cases[i - 1]];
    }
  }
  offsets[i] = total;
  return { cubes, cases, offsets };
}
