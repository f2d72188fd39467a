// The marching-cubes scan: per cube, its case index and triangle count, and the exclusive prefix sum
// of the counts, which tells the mesher where each cube's triangles go.
import { Vec3 } from '../common/box.js';
import { CASE_TRIANGLE_COUNTS } from './marching-cubes-table.js';

export interface MarchingCubesScan {
  /** Cubes per axis: shape - 1. Cube (x, y, z) has corner (x, y, z) as its corner 0. */
  cubes: Vec3;
  /** Case index per cube, x fastest. */
  cases: Uint8Array;
  /** offsets[i] = triangles of cubes before i; offsets[cubes] = the total. */
  offsets: Uint32Array;
}

export function cubesOf(mask: Uint8Array, shape: Vec3): Vec3 {
  if (mask.length !== shape[0] * shape[1] * shape[2])
    throw new Error(`marching cubes: mask has ${mask.length} values, shape [${shape}] needs ${shape[0] * shape[1] * shape[2]}`);
  return shape.map((s) => Math.max(0, s - 1)) as Vec3;
}

/** `mask` is non-zero inside the surface. */
export function marchingCubesScan(mask: Uint8Array, shape: Vec3): MarchingCubesScan {
  const cubes = cubesOf(mask, shape);
  const [sx, sy] = shape;
  const [cx, cy, cz] = cubes;
  const cases = new Uint8Array(cx * cy * cz);
  const offsets = new Uint32Array(cases.length + 1);
  const dy = sx,
    dz = sx * sy;
  let i = 0,
    total = 0;
  for (let z = 0; z < cz; z++)
    for (let y = 0; y < cy; y++) {
      let v = sx * (y + sy * z);
      // Corners as bits; each step in x reuses the previous cube's right face as its left face.
      let left = (mask[v] ? 1 : 0) | (mask[v + dy] ? 8 : 0) | (mask[v + dz] ? 16 : 0) | (mask[v + dy + dz] ? 128 : 0);
      for (let x = 0; x < cx; x++, v++) {
        const right = (mask[v + 1] ? 2 : 0) | (mask[v + 1 + dy] ? 4 : 0) | (mask[v + 1 + dz] ? 32 : 0) | (mask[v + 1 + dy + dz] ? 64 : 0);
        const c = left | right;
        cases[i] = c;
        offsets[i++] = total;
        total += CASE_TRIANGLE_COUNTS[c];
        // The right face's corners 1, 2, 5, 6 become the next cube's 0, 3, 4, 7.
        left = ((right & 2) >> 1) | ((right & 4) << 1) | ((right & 32) >> 1) | ((right & 64) << 1);
      }
    }
  offsets[i] = total;
  return { cubes, cases, offsets };
}
