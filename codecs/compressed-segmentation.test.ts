import { describe, expect, it } from 'vitest';
import { Vec3 } from '../common/box.js';
import {
  decodeCompressedSegmentation,
  decodeCompressedSegmentationJs,
  encodeCompressedSegmentation,
  encodeCompressedSegmentationJs,
} from './compressed-segmentation.js';
import { wasmKernels } from '../wasm/kernels.js';
import { referenceDecodeCompressedSegmentation, referenceEncodeCompressedSegmentation } from '../test/reference-cseg.js';

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

  it("decodes a layout other than the encoder's (tables first, one table shared by two blocks)", () => {
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
    expect(() => decodeCompressedSegmentation(bytesOf([1, 0x03000002, 2]), [2, 1, 1], 1, [2, 1, 1], 'uint32')).toThrow(
      /corrupt: block \(0,0,0\) has 3 encoded bits/,
    );
    expect(() => decodeCompressedSegmentation(bytesOf([1]), [8, 8, 8], 1, [8, 8, 8], 'uint32')).toThrow(/corrupt: block headers/);
    expect(() => decodeCompressedSegmentation(new Uint8Array(5), [1, 1, 1], 1, [8, 8, 8], 'uint32')).toThrow(/whole number of 32-bit words/);
  });
});

describe('the fast encoder and decoder against the reference implementation', () => {
  const rand = (seed: number) => {
    let s = seed >>> 0;
    return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  };
  const cases: [string, Vec3, Vec3, number, number, boolean][] = [
    ['one label', [64, 64, 64], [8, 8, 8], 1, 1, true],
    ['cells', [64, 64, 64], [8, 8, 8], 1, 60, true],
    ['one label per voxel (32 bits)', [16, 16, 16], [8, 8, 8], 1, 1 << 20, true],
    ['many labels, uint32, odd shape', [37, 29, 11], [8, 8, 8], 1, 300, false],
    ['two channels, anisotropic blocks', [21, 13, 9], [4, 4, 2], 2, 7, true],
    ['blocks larger than the chunk', [5, 3, 2], [8, 8, 8], 1, 3, false],
    ['labels near 2^64', [24, 24, 24], [8, 8, 8], 1, 20, true],
  ];
  for (const [name, shape, block, channels, distinct, wide] of cases) {
    it(name, () => {
      const next = rand(distinct * 7 + shape[0]);
      const n = shape[0] * shape[1] * shape[2] * channels;
      const pool = Array.from({ length: Math.min(distinct, n) }, (_, i) =>
        name.includes('2^64') ? 0xffff_ffff_ffff_ffffn - BigInt(i) : BigInt(Math.floor(next() * 2 ** 32)) << (wide ? 31n : 0n),
      );
      // Runs of one label, as in real segmentations, with random ones mixed in.
      const data = wide ? new BigUint64Array(n) : new Uint32Array(n);
      let current = pool[0];
      for (let i = 0; i < n; i++) {
        if (distinct >= n ? true : next() < 0.1) current = distinct >= n ? pool[i] : pool[Math.floor(next() * pool.length)];
        (data as any)[i] = wide ? current : Number(current & 0xffffffffn);
      }
      const fast = encodeCompressedSegmentation(data, shape, channels, block);
      const reference = referenceEncodeCompressedSegmentation(data, shape, channels, block);
      expect(Buffer.from(fast).equals(Buffer.from(reference))).toBe(true);
      const dtype = wide ? 'uint64' : 'uint32';
      expect(Buffer.from(decodeCompressedSegmentation(fast, shape, channels, block, dtype).buffer).equals(Buffer.from(data.buffer))).toBe(true);
      // The JS decoder and a transient decode (into reused memory) agree.
      expect(Buffer.from(decodeCompressedSegmentationJs(fast, shape, channels, block, dtype).buffer).equals(Buffer.from(data.buffer))).toBe(true);
      const transient = decodeCompressedSegmentation(fast, shape, channels, block, dtype, true);
      expect(Buffer.from(transient.buffer, transient.byteOffset, transient.byteLength).equals(Buffer.from(data.buffer))).toBe(true);
      // Unaligned input bytes decode the same.
      const shifted = new Uint8Array(fast.length + 1).subarray(1);
      shifted.set(fast);
      expect(
        Buffer.from(decodeCompressedSegmentation(shifted, shape, channels, block, dtype).buffer).equals(
          Buffer.from(referenceDecodeCompressedSegmentation(fast, shape, channels, block, dtype).buffer),
        ),
      ).toBe(true);
    });
  }

  it('refuses a lookup index past the end, as the reference does', () => {
    const enc = words(encodeCompressedSegmentation(new Uint32Array([1, 2, 1, 2]), [4, 1, 1], 1, [4, 1, 1]));
    enc.pop(); // drop the last table entry
    expect(() => decodeCompressedSegmentation(bytesOf(enc), [4, 1, 1], 1, [4, 1, 1], 'uint32')).toThrow(/lookup index 1 runs past the end/);
  });

  it('decodes with WebAssembly here, and agrees with the JS decoder on corrupted chunks (same voxels or same error)', () => {
    expect(wasmKernels()).not.toBeNull();
    const next = rand(99);
    const shape: Vec3 = [20, 12, 9];
    const data = BigUint64Array.from({ length: 20 * 12 * 9 }, (_, i) => BigInt(Math.floor(i / 7) % 13) * 0x1_0000_0001n);
    const good = words(encodeCompressedSegmentation(data, shape, 1, [8, 8, 4]));
    const outcome = (f: () => BigUint64Array | Uint32Array) => {
      try {
        return Buffer.from(f().buffer).toString('hex');
      } catch (e) {
        return (e as Error).message;
      }
    };
    let errors = 0;
    for (let trial = 0; trial < 300; trial++) {
      const bad = good.slice();
      for (let k = 0; k < 1 + (trial % 3); k++) {
        const at = Math.floor(next() * bad.length);
        bad[at] = trial % 2 ? Math.floor(next() * 2 ** 32) : bad[at] ^ (1 << Math.floor(next() * 32));
      }
      const bytes = bytesOf(bad.map((v) => v >>> 0));
      const js = outcome(() => decodeCompressedSegmentationJs(bytes, shape, 1, [8, 8, 4], 'uint64'));
      expect(
        outcome(() => decodeCompressedSegmentation(bytes, shape, 1, [8, 8, 4], 'uint64')),
        `trial ${trial}`,
      ).toBe(js);
      if (js.includes('corrupt')) errors++;
    }
    expect(errors).toBeGreaterThan(10); // the fuzzing reaches the error paths
  });
});

describe('the WebAssembly encoder against the JS encoder', () => {
  it('writes the same bytes for random shapes, blocks, channels and label mixes', () => {
    expect(wasmKernels()).not.toBeNull();
    let seed = 12345;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    const pick = (n: number) => next() % n;
    for (let trial = 0; trial < 120; trial++) {
      const shape: Vec3 = [1 + pick(40), 1 + pick(30), 1 + pick(20)];
      const block: Vec3 = [[1, 2, 4, 8, 16][pick(5)], [1, 2, 4, 8][pick(4)], [1, 2, 4, 8, 3][pick(5)]];
      const channels = 1 + pick(2),
        wide = trial % 2 === 0;
      const n = shape[0] * shape[1] * shape[2] * channels;
      // From a few labels to one a voxel, in runs or scattered, so every bit width, sort path
      // (insertion and quicksort) and shared table is reached; labels with high words set and near 2^64.
      const distinct = [1, 2, 3, 5, 17, 40, 300, n][pick(8)];
      const pool = Array.from({ length: distinct }, (_, i) =>
        i === 0 && wide ? 0xffff_ffff_ffff_ffffn : wide ? (BigInt(next()) << 32n) | BigInt(next() >>> pick(32)) : BigInt(next() >>> pick(32)),
      );
      const runs = pick(3);
      const data = wide ? new BigUint64Array(n) : new Uint32Array(n);
      let current = pool[0];
      for (let i = 0; i < n; i++) {
        if (runs === 0 || pick(10 * runs) === 0) current = pool[pick(distinct)];
        (data as any)[i] = wide ? current : Number(current);
      }
      const fast = encodeCompressedSegmentation(data, shape, channels, block);
      const plain = encodeCompressedSegmentationJs(data, shape, channels, block);
      expect(Buffer.from(fast).equals(Buffer.from(plain)), `trial ${trial}: [${shape}] blocks [${block}] x${channels} ${distinct} labels`).toBe(true);
    }
  });

  it('refuses, in both, a chunk whose lookup tables would start past the 2^24 words a header addresses', () => {
    // A uint64 label a voxel: a block of 8^3 takes 2 header words, 256 value words (16 bits) and a
    // 1024-word table, so past 13,087 blocks the last tables start beyond 2^24 words.
    const shape: Vec3 = [256, 256, 104];
    const n = shape[0] * shape[1] * shape[2];
    const labels = new BigUint64Array(n);
    const words = new Uint32Array(labels.buffer);
    for (let i = 0; i < n; i++) words[2 * i] = i;
    expect(() => encodeCompressedSegmentation(labels, shape, 1, [8, 8, 8])).toThrow(/past the 2\^24 words a block header can address/);
    expect(() => encodeCompressedSegmentationJs(labels, shape, 1, [8, 8, 8])).toThrow(/past the 2\^24 words a block header can address/);
    // Under the limit (12,288 blocks) it encodes, and decodes back.
    const small: Vec3 = [256, 256, 96];
    const part = labels.subarray(0, small[0] * small[1] * small[2]);
    const encoded = encodeCompressedSegmentation(part, small, 1, [8, 8, 8]);
    expect(encoded.length / 4).toBeGreaterThan(15_000_000);
    expect(Buffer.from(decodeCompressedSegmentation(encoded, small, 1, [8, 8, 8], 'uint64').buffer).equals(Buffer.from(part.slice().buffer))).toBe(true);
  });
});

describe('the bound a read holds a compressed_segmentation chunk to', () => {
  it('holds for a label at every voxel of full and edge chunks (whose blocks are padded past the chunk)', async () => {
    const { maxEncodedBytes } = await import('./registry.js');
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) >>> 0);
    for (const shape of [
      [8, 8, 8],
      [2, 8, 3],
      [1, 1, 1],
      [9, 3, 17],
      [64, 64, 64],
      [65, 1, 2],
    ] as Vec3[])
      for (const dataType of ['uint32', 'uint64'] as const) {
        const n = shape[0] * shape[1] * shape[2];
        const labels =
          dataType === 'uint64' ? BigUint64Array.from({ length: n }, () => (BigInt(next()) << 20n) | BigInt(next())) : Uint32Array.from({ length: n }, next);
        const encoded = encodeCompressedSegmentation(labels, shape, 1, [8, 8, 8]);
        const bound = maxEncodedBytes({ encoding: 'compressed_segmentation', dataType, channels: 1, blockSize: [8, 8, 8] }, shape);
        expect(encoded.length, `${shape} ${dataType}`).toBeLessThanOrEqual(bound);
      }
  });
});
