import { describe, expect, it } from 'vitest';
import { Vec3 } from '../precomputed/box.js';
import { decodeCompressedSegmentation, encodeCompressedSegmentation } from './compressed-segmentation.js';

const words = (bytes: Uint8Array) => Array.from(new Uint32Array(bytes.slice().buffer));
const bytesOf = (w: number[]) => new Uint8Array(new Uint32Array(w).buffer);

describe('compressed_segmentation, hand-worked from the spec', () => {
  // uint32, shape [3,2,1], block [2,2,1]: rows y=0: 5 5 7, y=1: 9 5 7.
  // Block (0,0,0) holds 5,5,9,5 -> table [5,9], 1 bit, indices 0,0,1,0 -> value word 0b0100.
  // Block (1,0,0) holds 7 and padding (which repeats 7) -> table [7], 0 bits, no value words.
  // Words: channel offset [1]; headers (5 | 1<<24, 4), (7 | 0<<24, 7); values [4]; table [5, 9]; table [7].
  const expected32 = [1, 0x01000005, 4, 7, 7, 4, 5, 9, 7];
  const data32 = new Uint32Array([5, 5, 7, 9, 5, 7]);

  it('encodes uint32 to the exact words', () => {
    expect(words(encodeCompressedSegmentation(data32, [3, 2, 1], 1, [2, 2, 1]))).toEqual(expected32);
  });

  it('decodes the hand-made uint32 vector', () => {
    expect(Array.from(decodeCompressedSegmentation(bytesOf(expected32), [3, 2, 1], 1, [2, 2, 1], 'uint32') as Uint32Array)).toEqual(Array.from(data32));
  });

  it('decodes a layout other than the encoder\'s (tables first, one table shared by two blocks)', () => {
    // shape [4,1,1], block [2,1,1]: both blocks are [3, 8]; the shared table [3, 8] sits before the values.
    const w = [1, /* headers */ 4 | (1 << 24), 6, 4 | (1 << 24), 7, /* table */ 3, 8, /* values */ 0b10, 0b01];
    expect(Array.from(decodeCompressedSegmentation(bytesOf(w), [4, 1, 1], 1, [2, 1, 1], 'uint32') as Uint32Array)).toEqual([3, 8, 8, 3]);
  });

  it('encodes uint64 with the table sorted by full 64-bit value', () => {
    // [2^32 + 1, 3]: sorted table [3, 2^32+1] as (lo, hi) pairs; indices 1, 0 -> value word 0b01.
    const data = new BigUint64Array([(1n << 32n) + 1n, 3n]);
    const enc = encodeCompressedSegmentation(data, [2, 1, 1], 1, [2, 1, 1]);
    expect(words(enc)).toEqual([1, 0x01000003, 2, 1, 3, 0, 1, 1]);
    expect(Array.from(decodeCompressedSegmentation(enc, [2, 1, 1], 1, [2, 1, 1], 'uint64') as BigUint64Array)).toEqual(Array.from(data));
  });

  it('writes one offset per channel in the multi-channel header', () => {
    const enc = words(encodeCompressedSegmentation(new Uint32Array([1, 1, 2, 2]), [2, 1, 1], 2, [2, 1, 1]));
    // channel 0 starts after the 2-word header; its data is 2 header words + 0 value words + 1 table word.
    expect(enc.slice(0, 2)).toEqual([2, 5]);
    expect(enc).toEqual([2, 5, 2, 2, 1, 2, 2, 2]);
  });
});

function random(n: number, distinct: number, seed: number, wide: boolean): Uint32Array | BigUint64Array {
  let s = seed;
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0);
  const pool = Array.from({ length: distinct }, () => (wide ? (BigInt(next()) << 32n) | BigInt(next()) : BigInt(next())));
  if (wide) pool[0] = 0xffff_ffff_ffff_ffffn; // the largest uint64 must survive
  const out = wide ? new BigUint64Array(n) : new Uint32Array(n);
  for (let i = 0; i < n; i++) (out as any)[i] = wide ? pool[next() % distinct] : Number(pool[next() % distinct]);
  return out;
}

describe('compressed_segmentation round trips', () => {
  const cases: [Vec3, Vec3, number, number][] = [
    [[64, 64, 64], [8, 8, 8], 1, 5],
    [[13, 7, 5], [8, 8, 8], 1, 3], // partial blocks everywhere
    [[17, 9, 3], [4, 2, 3], 2, 40], // anisotropic blocks, two channels, 8 bits
    [[1, 1, 1], [8, 8, 8], 1, 1],
    [[16, 16, 2], [8, 8, 1], 1, 300], // 16 bits
    [[8, 8, 8], [8, 8, 8], 1, 70000], // more distinct values than voxels: 32 bits
  ];
  for (const wide of [false, true]) {
    for (const [shape, block, channels, distinct] of cases) {
      it(`${wide ? 'uint64' : 'uint32'} shape [${shape}] block [${block}] x${channels}, ${distinct} labels`, () => {
        const n = shape[0] * shape[1] * shape[2] * channels;
        const data = random(n, distinct, n + distinct, wide);
        const enc = encodeCompressedSegmentation(data, shape, channels, block);
        const dec = decodeCompressedSegmentation(enc, shape, channels, block, wide ? 'uint64' : 'uint32');
        expect(dec).toEqual(data);
      });
    }
  }

  it('compresses a uniform chunk to headers plus one table entry', () => {
    const enc = encodeCompressedSegmentation(new Uint32Array(64 ** 3).fill(42), [64, 64, 64], 1, [8, 8, 8]);
    expect(enc.byteLength).toBe(4 * (1 + 2 * 512 + 1));
  });

  it('names the problem in corrupt input', () => {
    expect(() => decodeCompressedSegmentation(bytesOf([1, 0x03000002, 2]), [2, 1, 1], 1, [2, 1, 1], 'uint32')).toThrow(/corrupt: block \(0,0,0\) has 3 encoded bits/);
    expect(() => decodeCompressedSegmentation(bytesOf([1]), [8, 8, 8], 1, [8, 8, 8], 'uint32')).toThrow(/corrupt: block headers/);
    expect(() => decodeCompressedSegmentation(new Uint8Array(5), [1, 1, 1], 1, [8, 8, 8], 'uint32')).toThrow(/whole number of 32-bit words/);
  });
});
