// Deterministic synthetic EM-like data: cells are a jittered-grid Voronoi tessellation, their labels
// uint64 ids above 2^32; the image is bright cytoplasm with dark membranes and speckle. Any box can be
// generated on its own and agrees with its neighbours, so build chunks are made one at a time.
import { Box, voxelCount } from '../common/box.js';

const CELL = 24; // seed grid spacing in voxels

function hash(a: number, b: number, c: number, d: number): number {
  let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77) ^ Math.imul(c, 0xc2b2ae3d) ^ Math.imul(d, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return (h ^ (h >>> 15)) >>> 0;
}

/** A label above 2^32 for seed cell (i, j, k); zero is left for membrane voxels. */
export function cellLabel(i: number, j: number, k: number): bigint {
  return (1n << 32n) + BigInt(hash(i, j, k, 7));
}

export function synthesize(region: Box): { image: Uint8Array; labels: BigUint64Array } {
  // Seeds of every grid cell the region's voxels can see (their own cell and the 26 around it).
  const lo = region.start.map((s) => Math.floor(s / CELL) - 1);
  const hi = region.stop.map((s) => Math.floor((s - 1) / CELL) + 1);
  const [nx, ny, nz] = [0, 1, 2].map((d) => hi[d] - lo[d] + 1);
  const seeds = new Float64Array(nx * ny * nz * 3);
  const cellLabels: bigint[] = [];
  const brightness = new Int32Array(nx * ny * nz);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const c = i + nx * (j + ny * k);
        const g = [lo[0] + i, lo[1] + j, lo[2] + k];
        for (let d = 0; d < 3; d++) seeds[3 * c + d] = (g[d] + 0.15 + 0.7 * (hash(g[0], g[1], g[2], d) / 2 ** 32)) * CELL;
        cellLabels[c] = cellLabel(g[0], g[1], g[2]);
        brightness[c] = 150 + (hash(g[0], g[1], g[2], 7) & 63) - 32;
      }
  const image = new Uint8Array(voxelCount(region));
  const labels = new BigUint64Array(voxelCount(region));
  let o = 0;
  for (let z = region.start[2]; z < region.stop[2]; z++)
    for (let y = region.start[1]; y < region.stop[1]; y++)
      for (let x = region.start[0]; x < region.stop[0]; x++, o++) {
        const ci = Math.floor(x / CELL) - lo[0],
          cj = Math.floor(y / CELL) - lo[1],
          ck = Math.floor(z / CELL) - lo[2];
        let d1 = Infinity,
          d2 = Infinity,
          best = 0;
        for (let k = ck - 1; k <= ck + 1; k++)
          for (let j = cj - 1; j <= cj + 1; j++)
            for (let i = ci - 1; i <= ci + 1; i++) {
              const c = i + nx * (j + ny * k);
              const dx = x + 0.5 - seeds[3 * c],
                dy = y + 0.5 - seeds[3 * c + 1],
                dz = z + 0.5 - seeds[3 * c + 2];
              const d = dx * dx + dy * dy + dz * dz;
              if (d < d1) {
                d2 = d1;
                d1 = d;
                best = c;
              } else if (d < d2) d2 = d;
            }
        const gap = Math.sqrt(d2) - Math.sqrt(d1); // about twice the distance to the nearest cell boundary
        const membrane = gap < 1.5;
        labels[o] = membrane ? 0n : cellLabels[best];
        const speckle = (hash(x, y, z, 11) & 31) - 16;
        const dark = membrane ? 90 : gap < 4 ? 40 * (1 - gap / 4) : 0;
        image[o] = Math.max(0, Math.min(255, Math.round(brightness[best] - dark + speckle)));
      }
  return { image, labels };
}

/**
 * Affinities (3 x float32, channel c at voxel v: the edge between v and v - e_c) that a good boundary
 * detector might give for the synthetic cells: 0.75..0.95 inside a cell, 0.1..0.4 elsewhere, with
 * per-edge noise from the coordinates, so any box agrees with its neighbours.
 */
export function synthesizeAffinities(region: Box): Float32Array {
  const grown: Box = { start: region.start.map((s) => s - 1) as Box['start'], stop: region.stop };
  const { labels } = synthesize(grown);
  const [gx, gy] = grown.stop.map((s, i) => s - grown.start[i]);
  const n = voxelCount(region);
  const out = new Float32Array(3 * n);
  const steps = [1, gx, gx * gy];
  let o = 0;
  for (let z = region.start[2]; z < region.stop[2]; z++)
    for (let y = region.start[1]; y < region.stop[1]; y++)
      for (let x = region.start[0]; x < region.stop[0]; x++, o++) {
        const g = x - grown.start[0] + gx * (y - grown.start[1] + gy * (z - grown.start[2]));
        for (let c = 0; c < 3; c++) {
          const a = labels[g],
            b = labels[g - steps[c]];
          const noise = hash(x, y, z, 20 + c) / 2 ** 32;
          out[c * n + o] = a !== 0n && a === b ? 0.75 + 0.2 * noise : 0.1 + 0.3 * noise;
        }
      }
  return out;
}
