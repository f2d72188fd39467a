import { describe, expect, it } from 'vitest';
import { Vec3 } from '../common/box.js';
import { referenceDownsample as reference, seededRandom as rng } from '../test/reference.js';
import { averageDownsample, downsampledShape, modeDownsample } from './downsample.js';

// Typed arrays of either element kind as a plain list, for toEqual.
const list = (a: ArrayLike<number> | ArrayLike<bigint>): (number | bigint)[] => Array.from(a as ArrayLike<number | bigint>);

const shapes: Vec3[] = [
  [1, 1, 1],
  [2, 2, 2],
  [7, 5, 3],
  [16, 9, 4],
  [3, 1, 6],
];
const factors: Vec3[] = [
  [2, 2, 2],
  [2, 2, 1],
  [1, 2, 2],
];

describe('average downsample', () => {
  it('rounds half up, by hand', () => {
    // children 1, 2 -> 1.5 -> 2; 1, 1, 2 -> 1.33 -> 1; 0..7 -> 3.5 -> 4
    expect(list(averageDownsample({ data: new Uint8Array([1, 2]), shape: [2, 1, 1], channels: 1, factor: [2, 1, 1] }))).toEqual([2]);
    expect(list(averageDownsample({ data: new Uint8Array([1, 1, 2]), shape: [3, 1, 1], channels: 1, factor: [2, 1, 1], phase: [1, 0, 0] }))).toEqual([1, 2]);
    expect(list(averageDownsample({ data: Uint16Array.from([0, 1, 2, 3, 4, 5, 6, 7]), shape: [2, 2, 2], channels: 1, factor: [2, 2, 2] }))).toEqual([4]);
    expect(list(averageDownsample({ data: new Uint8Array(8).fill(255), shape: [2, 2, 2], channels: 1, factor: [2, 2, 2] }))).toEqual([255]);
  });

  for (const dtype of ['uint8', 'uint16', 'uint32', 'float32'] as const) {
    it(`matches the brute-force reference for ${dtype} on odd shapes, factors, phases and 2 channels`, () => {
      const r = rng(dtype.length);
      for (const shape of shapes)
        for (const factor of factors)
          for (const phase of [
            [0, 0, 0],
            [1, 0, 1],
          ] as Vec3[]) {
            const p = phase.map((v, i) => (factor[i] === 2 ? v : 0)) as Vec3;
            const n = shape[0] * shape[1] * shape[2] * 2;
            const max = dtype === 'uint8' ? 256 : dtype === 'uint16' ? 65536 : 2 ** 32;
            const data =
              dtype === 'float32'
                ? Float32Array.from({ length: n }, () => r() * 100 - 50)
                : dtype === 'uint8'
                  ? Uint8Array.from({ length: n }, () => Math.floor(r() * max))
                  : dtype === 'uint16'
                    ? Uint16Array.from({ length: n }, () => Math.floor(r() * max))
                    : Uint32Array.from({ length: n }, () => Math.floor(r() * max));
            const got = averageDownsample({ data, shape, channels: 2, factor, phase: p });
            expect(got.length).toBe(downsampledShape(shape, factor, p).reduce((a, b) => a * b) * 2);
            const want = reference(data, shape, 2, factor, p, dtype === 'float32' ? 'float-mean' : 'mean');
            if (dtype === 'float32') want.forEach((w, i) => expect(got[i]).toBeCloseTo(Math.fround(w as number), 4));
            else expect(Array.from(got as Uint32Array)).toEqual(want);
          }
    });
  }
});

describe('mode downsample', () => {
  it('takes the most frequent label and breaks ties toward the smallest, by hand', () => {
    expect(list(modeDownsample({ data: Uint32Array.from([5, 5, 5, 9, 9, 9, 9, 1]), shape: [2, 2, 2], channels: 1, factor: [2, 2, 2] }))).toEqual([9]);
    expect(list(modeDownsample({ data: Uint32Array.from([7, 3, 3, 7, 0, 0, 8, 9]), shape: [2, 2, 2], channels: 1, factor: [2, 2, 2] }))).toEqual([0]);
    expect(list(modeDownsample({ data: Uint32Array.from([7, 3, 3, 7]), shape: [2, 2, 1], channels: 1, factor: [2, 2, 1] }))).toEqual([3]);
  });

  it('compares full 64-bit labels (equal low words, different high words)', () => {
    const a = (1n << 32n) | 5n,
      b = (2n << 32n) | 5n;
    const got = modeDownsample({ data: BigUint64Array.from([b, b, a, a, 5n, b, a, b]), shape: [2, 2, 2], channels: 1, factor: [2, 2, 2] });
    expect(Array.from(got as BigUint64Array)).toEqual([b]);
    const tie = modeDownsample({
      data: BigUint64Array.from([b, a, 0xffff_ffff_ffff_ffffn, 0xffff_ffff_ffff_ffffn, b, a]),
      shape: [6, 1, 1],
      channels: 1,
      factor: [2, 1, 1],
    });
    expect(Array.from(tie as BigUint64Array)).toEqual([a, 0xffff_ffff_ffff_ffffn, a]);
  });

  for (const wide of [false, true]) {
    it(`matches the brute-force reference for ${wide ? 'uint64' : 'uint32'}`, () => {
      const r = rng(wide ? 7 : 3);
      for (const shape of shapes)
        for (const factor of factors)
          for (const phase of [
            [0, 0, 0],
            [1, 1, 0],
          ] as Vec3[]) {
            const p = phase.map((v, i) => (factor[i] === 2 ? v : 0)) as Vec3;
            const n = shape[0] * shape[1] * shape[2];
            // Few distinct labels so ties and majorities both happen; uint64 ones differ only above bit 32.
            const labels = [0n, 1n, 2n, 3n].map((l) => (wide ? (l << 33n) | 77n : l));
            const data = wide
              ? BigUint64Array.from({ length: n }, () => labels[Math.floor(r() * 4)])
              : Uint32Array.from({ length: n }, () => Number(labels[Math.floor(r() * 4)]));
            const got = modeDownsample({ data, shape, channels: 1, factor, phase: p });
            expect(Array.from(got as any)).toEqual(reference(data, shape, 1, factor, p, 'mode'));
          }
    });
  }

  it('refuses image dtypes and bad factors with a clear message', () => {
    expect(() => modeDownsample({ data: new Uint8Array(8), shape: [2, 2, 2], channels: 1, factor: [2, 2, 2] })).toThrow(
      'mode downsampling needs uint32 or uint64 labels, not uint8',
    );
    expect(() => averageDownsample({ data: new Uint8Array(8), shape: [2, 2, 2], channels: 1, factor: [3, 2, 2] })).toThrow(
      'downsample factor [3,2,2] must have components 1 or 2',
    );
    expect(() => averageDownsample({ data: new Uint8Array(7), shape: [2, 2, 2], channels: 1, factor: [2, 2, 2] })).toThrow(/has 7 values/);
  });
});
