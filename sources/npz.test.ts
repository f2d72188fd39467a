import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeNpy, encodeNpz, readNpzVolume } from './npz.js';

// Fixtures from test/fixtures/make_npz.py (numpy): v[x, y, z, c] = x + 10y + 100z + 1000c.
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url)));
const expectFormula = (data: ArrayLike<number | bigint>, [sx, sy, sz]: number[], channels: number, scale = 1, offset = 0n) => {
  let i = 0;
  for (let c = 0; c < channels; c++)
    for (let z = 0; z < sz; z++)
      for (let y = 0; y < sy; y++)
        for (let x = 0; x < sx; x++, i++) {
          const v = (x + 10 * y + 100 * z + 1000 * c) * scale;
          if (typeof data[i] === 'bigint') expect(data[i]).toBe(BigInt(v) + offset);
          else expect(data[i]).toBe(v);
        }
  expect(data.length).toBe(i);
};

describe('npz reader on numpy-written files', () => {
  it('reads a C-order uint8 array indexed [x, y, z] into x-fastest order', () => {
    const v = readNpzVolume(fixture('xyz_uint8_c_order.npz'));
    expect(v.shape).toEqual([5, 4, 3]);
    expect(v.data).toBeInstanceOf(Uint8Array);
    expectFormula(v.data, v.shape, 1);
  });

  it('reads a Fortran-order uint16 array from savez_compressed (deflate)', () => {
    const v = readNpzVolume(fixture('xyz_uint16_fortran_compressed.npz'));
    expect(v.data).toBeInstanceOf(Uint16Array);
    expectFormula(v.data, v.shape, 1);
  });

  it('reads an array indexed [z, y, x] with axes "zyx" (and picks arr_0 when there is no "data")', () => {
    const v = readNpzVolume(fixture('zyx_uint32_c_order.npz'), { axes: 'zyx' });
    expect(v.shape).toEqual([5, 4, 3]);
    expectFormula(v.data, v.shape, 1);
  });

  it('reads a 4-d uint64 array [x, y, z, c] with values above 2^32', () => {
    const v = readNpzVolume(fixture('xyzc_uint64_compressed.npz'));
    expect([v.shape, v.channels]).toEqual([[3, 2, 2], 2]);
    expectFormula(v.data, v.shape, 2, 1, 2n ** 40n);
  });

  it('reads a bare .npy of float32', () => {
    const v = readNpzVolume(fixture('xyz_float32.npy'));
    expect(v.data).toBeInstanceOf(Float32Array);
    expectFormula(v.data, v.shape, 1, 0.25);
  });

  it('names the problem in bad input', () => {
    const good = fixture('xyz_uint16_fortran_compressed.npz');
    const corrupt = good.slice();
    corrupt[60] ^= 0xff; // inside the deflated data
    expect(() => readNpzVolume(corrupt, { what: 'build.npz' })).toThrow(/build.npz: corrupt zip archive/);
    expect(() => readNpzVolume(good.slice(0, 40), { what: 'build.npz' })).toThrow(/build.npz: corrupt zip archive \(no end-of-central-directory record\)/);
    expect(() => readNpzVolume(good, { name: 'labels' })).toThrow("npz: no array named 'labels' (has data.npy)");
  });
});

describe('npz writer', () => {
  it('round-trips through the reader', () => {
    const data = BigUint64Array.from({ length: 24 }, (_, i) => (BigInt(i) << 33n) + 1n);
    const v = readNpzVolume(encodeNpz({ data: encodeNpy(data, [2, 3, 4]) }));
    expect(v.shape).toEqual([2, 3, 4]);
    expect(v.data).toEqual(data);
  });

  it("aligns each array's data in the file, so that the reader views it in place", () => {
    const data = BigUint64Array.from({ length: 60 }, (_, i) => BigInt(i) * 0x1_0000_0001n);
    for (const name of ['data', 'a_longer_name_x', 'b']) {
      const file = encodeNpz({ first: encodeNpy(new Uint8Array(5), [5, 1, 1]), [name]: encodeNpy(data, [3, 4, 5]) });
      const v = readNpzVolume(file, { name });
      expect(v.data).toEqual(data);
      expect(v.data.buffer).toBe(file.buffer); // no aligning copy
    }
  });
});
