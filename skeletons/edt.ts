// Multi-label Euclidean distance transform: for every nonzero voxel, the squared physical distance
// to the nearest voxel centre of another label (background included; outside the array counts as
// background), with anisotropic voxels. Separable, as Felzenszwalb and Huttenlocher's: one pass an
// axis, each line cut into runs of one label whose ends (a label change, the array's edge) are
// sources at distance 0, so labels never see through each other.
import { Vec3 } from '../common/box.js';

export type Labels = Uint8Array | Uint16Array | Uint32Array | BigUint64Array;

/**
 * `open` (per face: lower x, upper x, lower y, ...) marks faces where the array is cut from a larger
 * volume: beyond them is unknown, not background, so they are no source (a voxel with no boundary
 * in reach on any side keeps Infinity).
 */
export function squaredEdt(labels: Labels, shape: Vec3, anisotropy: Vec3, open: boolean[] = [false, false, false, false, false, false]): Float64Array {
  const [sx, sy, sz] = shape;
  const d = new Float64Array(sx * sy * sz);
  // x: the distance to the run's nearer end, directly.
  const wx = anisotropy[0] ** 2;
  for (let line = 0; line < sy * sz; line++) {
    const base = line * sx;
    for (let a = 0; a < sx;) {
      const l = labels[base + a];
      let b = a + 1;
      while (b < sx && labels[base + b] === l) b++;
      const below = a === 0 && open[0] ? Infinity : 0,
        above = b === sx && open[1] ? Infinity : 0;
      if (l !== 0 && l !== 0n) for (let i = a; i < b; i++) d[base + i] = wx * Math.min(i - a + 1 + below, b - i + above) ** 2;
      a = b;
    }
  }
  const f = new Float64Array(Math.max(sx, sy, sz) + 2);
  const at = new Int32Array(f.length),
    v = new Int32Array(f.length),
    z = new Float64Array(f.length + 1),
    out = new Float64Array(f.length);
  const pass = (n: number, stride: number, lines: number[], w: number, openBelow: boolean, openAbove: boolean) => {
    for (const start of lines)
      for (let a = 0; a < n;) {
        const l = labels[start + a * stride];
        let b = a + 1;
        while (b < n && labels[start + b * stride] === l) b++;
        if (l !== 0 && l !== 0n) {
          // Sources: the run's voxels (their distance so far; Infinity: none) between two of distance
          // 0 at a - 1 and b, where the run ends at another label or at a face that is not open.
          let m = 0;
          if (!(a === 0 && openBelow)) ((at[m] = a - 1), (f[m++] = 0));
          for (let i = a; i < b; i++) if (d[start + i * stride] !== Infinity) ((at[m] = i), (f[m++] = d[start + i * stride]));
          if (!(b === n && openAbove)) ((at[m] = b), (f[m++] = 0));
          if (m === 0) out.fill(Infinity, 0, b - a);
          else lowerEnvelope(f, at, m, w, a, b, v, z, out);
          for (let i = a; i < b; i++) d[start + i * stride] = out[i - a];
        }
        a = b;
      }
  };
  const yLines: number[] = [];
  for (let zz = 0; zz < sz; zz++) for (let x = 0; x < sx; x++) yLines.push(x + zz * sx * sy);
  pass(sy, sx, yLines, anisotropy[1] ** 2, open[2], open[3]);
  const zLines: number[] = [];
  for (let y = 0; y < sy; y++) for (let x = 0; x < sx; x++) zLines.push(x + y * sx);
  pass(sz, sx * sy, zLines, anisotropy[2] ** 2, open[4], open[5]);
  return d;
}

/** min over sources k of w (i - at[k])^2 + f[k], for i in [a, b), into out[i - a]. */
function lowerEnvelope(f: Float64Array, at: Int32Array, m: number, w: number, a: number, b: number, v: Int32Array, z: Float64Array, out: Float64Array): void {
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  const meet = (p: number, q: number) => (f[q] + w * at[q] * at[q] - (f[p] + w * at[p] * at[p])) / (2 * w * (at[q] - at[p]));
  for (let q = 1; q < m; q++) {
    let s = meet(v[k], q);
    while (s <= z[k]) s = meet(v[--k], q);
    v[++k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let i = a; i < b; i++) {
    while (z[k + 1] < i) k++;
    const p = v[k];
    out[i - a] = w * (i - at[p]) ** 2 + f[p];
  }
}
