// copyRegion against a voxel-by-voxel copy, on random boxes: every element type, channels, offsets
// that make rows unaligned, whole-row and whole-slice runs, short and long rows.
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../test/reference.js';
import { Box, copyRegion, intersect, shapeOf, Vec3, voxelCount } from './box.js';

const kinds = [Uint8Array, Uint16Array, Uint32Array, Float32Array, BigUint64Array] as const;

function bruteForce(src: ArrayLike<number | bigint>, srcBox: Box, dst: (number | bigint)[], dstBox: Box, region: Box, channels: number): void {
  const [sx, sy, sz] = shapeOf(srcBox),
    [dx, dy, dz] = shapeOf(dstBox);
  for (let c = 0; c < channels; c++)
    for (let z = region.start[2]; z < region.stop[2]; z++)
      for (let y = region.start[1]; y < region.stop[1]; y++)
        for (let x = region.start[0]; x < region.stop[0]; x++) {
          const s = x - srcBox.start[0] + sx * (y - srcBox.start[1] + sy * (z - srcBox.start[2] + sz * c));
          const d = x - dstBox.start[0] + dx * (y - dstBox.start[1] + dy * (z - dstBox.start[2] + dz * c));
          dst[d] = src[s];
        }
}

describe('copyRegion', () => {
  it('equals a voxel-by-voxel copy on random boxes', () => {
    const r = seededRandom(5);
    const int = (n: number) => Math.floor(r() * n);
    for (let trial = 0; trial < 400; trial++) {
      const Kind = kinds[trial % kinds.length];
      const channels = 1 + (trial % 3 === 0 ? 1 : 0);
      const randomBox = (): Box => {
        const start = [int(9) - 4, int(9) - 4, int(5) - 2] as Vec3;
        const big = trial % 4 === 0 ? 300 : 20; // long rows take the memcpy path
        return { start, stop: [start[0] + 1 + int(big), start[1] + 1 + int(12), start[2] + 1 + int(5)] };
      };
      const srcBox = randomBox();
      // Some destinations are the source box itself or share its rows (contiguous runs).
      const dstBox =
        trial % 5 === 0
          ? srcBox
          : trial % 5 === 1
            ? { start: [srcBox.start[0], srcBox.start[1] - 1, srcBox.start[2]] as Vec3, stop: [srcBox.stop[0], srcBox.stop[1] + 2, srcBox.stop[2] + 1] as Vec3 }
            : randomBox();
      const region = intersect(srcBox, dstBox);
      if (region.start.some((v, i) => v >= region.stop[i])) continue;
      // Offsets into a larger buffer, so views start unaligned for their word copies (not their type).
      const n = voxelCount(srcBox) * channels,
        m = voxelCount(dstBox) * channels;
      const offset = int(3);
      const src = new Kind(new ArrayBuffer((n + 3) * Kind.BYTES_PER_ELEMENT), offset * Kind.BYTES_PER_ELEMENT, n);
      for (let i = 0; i < n; i++) (src as any)[i] = Kind === BigUint64Array ? (BigInt(int(2 ** 30)) << 33n) | BigInt(i) : int(250);
      const dst = new Kind(new ArrayBuffer((m + 3) * Kind.BYTES_PER_ELEMENT), int(3) * Kind.BYTES_PER_ELEMENT, m);
      const want: (number | bigint)[] = Array.from(dst as ArrayLike<number | bigint>);
      bruteForce(src as ArrayLike<number | bigint>, srcBox, want, dstBox, region, channels);
      copyRegion(src, srcBox, dst, dstBox, region, channels);
      expect(Array.from(dst as ArrayLike<number | bigint>), `trial ${trial}`).toEqual(want);
    }
  });
});
