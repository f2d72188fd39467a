// Affinities on the boundaries between segments, the input of the mean-affinity region graph.
// Convention (as in the seed): affinity channel c at voxel v is the edge between v and its neighbour
// one step back along axis c (x, y, z). An edge is a boundary edge when both voxels are labelled
// (non-zero) and their labels differ.
import { Vec3 } from '../common/box.js';
import { labelWords } from '../common/dtype.js';

export interface BoundaryInput {
  /** Segmentation, x fastest, `shape` voxels. */
  labels: Uint32Array | BigUint64Array;
  /** Three channels (x, y, z edges), channel-major: channel c starts at c * voxels. Values in [0, 1]. */
  affinities: Float32Array;
  shape: Vec3;
}

/** Marks edges that are not on a boundary (and edges leaving the box). */
export const NOT_BOUNDARY = -1;

export function checkBoundaryInput({ labels, affinities, shape }: BoundaryInput): number {
  const n = shape[0] * shape[1] * shape[2];
  if (labels.length !== n) throw new Error(`affinity kernel: labels have ${labels.length} values, shape [${shape}] needs ${n}`);
  if (affinities.length !== 3 * n) throw new Error(`affinity kernel: affinities have ${affinities.length} values, 3 channels of [${shape}] need ${3 * n}`);
  for (let i = 0; i < affinities.length; i++) {
    const a = affinities[i];
    if (!(a >= 0 && a <= 1)) throw new Error(`affinity kernel: affinity ${a} at channel ${Math.floor(i / n)}, voxel ${i % n} is outside [0, 1]`);
  }
  return n;
}

/**
 * Per edge (channel-major, like the affinities): the affinity where the edge is a boundary edge, else
 * NOT_BOUNDARY. A pure selection, so CPU and GPU agree bit for bit.
 */
export function boundaryAffinities(input: BoundaryInput): Float32Array {
  const n = checkBoundaryInput(input);
  const { affinities, shape } = input;
  const { words, wordsPerLabel: w } = labelWords(input.labels);
  const [sx, sy, sz] = shape;
  const out = new Float32Array(3 * n).fill(NOT_BOUNDARY);
  const steps = [1, sx, sx * sy];
  for (let z = 0; z < sz; z++)
    for (let y = 0; y < sy; y++) {
      const row = sx * (y + sy * z);
      for (let x = 0; x < sx; x++) {
        const v = row + x;
        const lo = words[w * v],
          hi = w === 2 ? words[w * v + 1] : 0;
        if (lo === 0 && hi === 0) continue;
        for (let c = 0; c < 3; c++) {
          if ((c === 0 ? x : c === 1 ? y : z) === 0) continue;
          const u = v - steps[c];
          const ulo = words[w * u],
            uhi = w === 2 ? words[w * u + 1] : 0;
          if ((ulo === 0 && uhi === 0) || (ulo === lo && uhi === hi)) continue;
          out[c * n + v] = affinities[c * n + v];
        }
      }
    }
  return out;
}
