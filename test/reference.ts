// Brute-force references for tests, written straight from the definitions and sharing no code with
// the kernels: children of output voxel v are v*f - phase .. v*f - phase + f - 1, where they exist.
import { Vec3 } from '../common/box.js';
import { Info, scaleBounds } from '../precomputed/info.js';

/** op 'mean' rounds half up to an integer; 'float-mean' keeps float32 precision. */
export function referenceDownsample(
  data: ArrayLike<number | bigint>,
  shape: Vec3,
  channels: number,
  f: Vec3,
  phase: Vec3,
  op: 'mean' | 'float-mean' | 'mode',
): (number | bigint)[] {
  const out: (number | bigint)[] = [];
  const os = shape.map((s, i) => Math.ceil((s + phase[i]) / f[i]));
  for (let c = 0; c < channels; c++)
    for (let z = 0; z < os[2]; z++)
      for (let y = 0; y < os[1]; y++)
        for (let x = 0; x < os[0]; x++) {
          const kids: (number | bigint)[] = [];
          for (let dz = 0; dz < f[2]; dz++)
            for (let dy = 0; dy < f[1]; dy++)
              for (let dx = 0; dx < f[0]; dx++) {
                const p = [x * f[0] - phase[0] + dx, y * f[1] - phase[1] + dy, z * f[2] - phase[2] + dz];
                if (p.every((v, i) => v >= 0 && v < shape[i])) kids.push(data[p[0] + shape[0] * (p[1] + shape[1] * (p[2] + shape[2] * c))]);
              }
          if (op !== 'mode') {
            const mean = (kids as number[]).reduce((a, b) => a + b, 0) / kids.length;
            out.push(op === 'mean' ? Math.floor(mean + 0.5) : Math.fround(mean));
          } else {
            const counts = new Map<bigint, number>();
            for (const k of kids) counts.set(BigInt(k), (counts.get(BigInt(k)) ?? 0) + 1);
            const best = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0][0];
            out.push(typeof data[0] === 'bigint' ? best : Number(best));
          }
        }
  return out;
}

/** The whole pyramid of a layer whose mip 0 holds `mip0`, one array per scale of `info`. */
export function referencePyramid(info: Info, mip0: ArrayLike<number | bigint>): (number | bigint)[][] {
  const levels: (number | bigint)[][] = [Array.from(mip0 as ArrayLike<any>)];
  for (let m = 1; m < info.scales.length; m++) {
    const lo = scaleBounds(info.scales[m - 1]),
      hi = scaleBounds(info.scales[m]);
    const f = info.scales[m].resolution.map((r, i) => r / info.scales[m - 1].resolution[i]) as Vec3;
    const phase = lo.start.map((s, i) => s - hi.start[i] * f[i]) as Vec3;
    const shape = info.scales[m - 1].size;
    levels.push(
      referenceDownsample(
        levels[m - 1],
        shape,
        info.num_channels,
        f,
        phase,
        info.type === 'segmentation' ? 'mode' : info.data_type === 'float32' ? 'float-mean' : 'mean',
      ),
    );
  }
  return levels;
}

/** A small deterministic generator of numbers in [0, 1), so failures reproduce. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}
