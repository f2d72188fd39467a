import jpegJs from 'jpeg-js';
import { decode as decodePngImage } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { Vec3 } from '../common/box.js';
import { decodeJpeg, encodeJpeg } from './jpeg.js';
import { decodePng, encodePng } from './png.js';
import { decodeRaw, encodeRaw } from './raw.js';

function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  return 10 * Math.log10((255 * 255) / (se / a.length));
}

const shape: Vec3 = [32, 16, 4];
const n = shape[0] * shape[1] * shape[2];
// A smooth EM-ish pattern: gradients plus a soft blob, like membrane-free cytoplasm.
const smooth = Uint8Array.from({ length: n }, (_, i) => {
  const x = i % 32,
    y = Math.floor(i / 32) % 16,
    z = Math.floor(i / 512);
  return Math.round(100 + 2 * x + 3 * y + 5 * z + 40 * Math.exp(-((x - 16) ** 2 + (y - 8) ** 2) / 30));
});

describe('raw', () => {
  it('round-trips uint64 and rejects a wrong length naming both sizes', () => {
    const a = BigUint64Array.from({ length: 24 }, (_, i) => BigInt(i) << 40n);
    expect(decodeRaw(encodeRaw(a), [2, 3, 4], 1, 'uint64')).toEqual(a);
    expect(() => decodeRaw(new Uint8Array(10), [2, 3, 4], 1, 'uint64')).toThrow(
      'raw chunk has 10 bytes, expected 192 for shape [2,3,4] x 1 channel(s) of uint64',
    );
  });
});

describe('jpeg (libjpeg-turbo), read back by an independent decoder (jpeg-js)', () => {
  const independent = (bytes: Uint8Array) => jpegJs.decode(bytes, { useTArray: true, formatAsRGBA: false }); // RGB triplets

  it('writes one-channel chunks as single-component JPEGs that jpeg-js reads back closely', () => {
    const bytes = encodeJpeg(smooth, shape, 1, 90);
    const sof = bytes.findIndex((b, i) => b === 0xff && bytes[i + 1] === 0xc0);
    expect(sof).toBeGreaterThan(0);
    expect(bytes[sof + 9]).toBe(1);
    const decoded = independent(bytes);
    expect([decoded.width, decoded.height]).toEqual([32, 64]);
    expect(
      psnr(
        smooth,
        decoded.data.filter((_, i) => i % 3 === 0),
      ),
    ).toBeGreaterThan(38);
    expect(psnr(smooth, decodeJpeg(bytes, shape, 1))).toBeGreaterThan(38);
  });

  it('keeps a constant image constant (within the DC quantization) and handles sizes that are not multiples of 8', () => {
    const flat = new Uint8Array(13 * 11).fill(77);
    const decoded = decodeJpeg(encodeJpeg(flat, [13, 11, 1], 1), [13, 11, 1], 1);
    expect(new Set(decoded).size).toBe(1);
    expect(Math.abs(decoded[0] - 77)).toBeLessThanOrEqual(1);
  });

  it('gives each chunk bytes of its own: a later encode (bigger, smaller, 3 channels) does not touch an earlier result', () => {
    const first = encodeJpeg(smooth, shape, 1, 90);
    const copy = first.slice();
    const big = new Uint8Array(64 * 64 * 16).map((_, i) => (i * 31) & 255);
    encodeJpeg(big, [64, 64, 16], 1);
    encodeJpeg(new Uint8Array(8 * 8 * 3).fill(200), [8, 8, 1], 3);
    expect(first).toEqual(copy);
    // Only the JPEG's own bytes are kept, not the compressor's worst-case buffer.
    expect(first.buffer.byteLength).toBe(first.length);
    // The same chunk encodes to the same bytes after the buffers grew.
    expect(encodeJpeg(smooth, shape, 1, 90)).toEqual(copy);
  });

  it('keeps more detail at higher quality', () => {
    const noisy = Uint8Array.from(smooth, (v, i) => (v + ((i * 7919) % 23)) & 255);
    const low = psnr(noisy, decodeJpeg(encodeJpeg(noisy, shape, 1, 30), shape, 1));
    const high = psnr(noisy, decodeJpeg(encodeJpeg(noisy, shape, 1, 95), shape, 1));
    expect(high).toBeGreaterThan(low + 3);
  });

  it('round-trips 3 channels in channel-major voxel order', () => {
    const rgb = new Uint8Array(n * 3);
    rgb.set(smooth, 0);
    rgb.fill(200, n, 2 * n);
    rgb.fill(30, 2 * n);
    const bytes = encodeJpeg(rgb, shape, 3, 95);
    const back = decodeJpeg(bytes, shape, 3);
    expect(psnr(rgb, back)).toBeGreaterThan(30);
    expect(Math.abs(back[n + 5] - 200)).toBeLessThan(6);
    const other = independent(bytes);
    for (let c = 0; c < 3; c++)
      expect(
        psnr(
          rgb.subarray(c * n, (c + 1) * n),
          other.data.filter((_, i) => i % 3 === c),
        ),
      ).toBeGreaterThan(30);
  });

  it('writes 3-channel chunks that a decoder reads whatever their scan ends on (the jpeg-js 0xFF padding bug)', () => {
    // jpeg-js padded a byte-aligned scan with a whole 0xFF byte, which Neuroglancer's decoder refuses
    // ("marker was not found"). Many random chunks: some scans end byte-aligned; all must decode.
    let seed = 3;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let t = 0; t < 60; t++) {
      const s: Vec3 = [8 + (next() % 40), 8 + (next() % 9), 1 + (next() % 3)];
      const voxels = Uint8Array.from({ length: s[0] * s[1] * s[2] * 3 }, () => next() & 255);
      const bytes = encodeJpeg(voxels, s, 3, 50 + (next() % 50));
      expect(bytes[bytes.length - 2]).toBe(0xff);
      expect(bytes[bytes.length - 1]).toBe(0xd9);
      expect(bytes[bytes.length - 3]).not.toBe(0xff); // no padding byte before EOI
      const other = independent(bytes);
      expect(other.width * other.height).toBe(s[0] * s[1] * s[2]);
      expect(decodeJpeg(bytes, s, 3).length).toBe(voxels.length);
    }
  });

  it('refuses a chunk with the wrong number of pixels or corrupt bytes', () => {
    const bytes = encodeJpeg(smooth, shape, 1);
    expect(() => decodeJpeg(bytes, [32, 16, 5], 1)).toThrow('jpeg chunk is 32x64, expected 32x80 for shape [32,16,5]');
    expect(() => decodeJpeg(bytes.slice(0, 20), shape, 1)).toThrow(/jpeg chunk is corrupt/);
    expect(() => decodeJpeg(bytes, shape, 3)).toThrow('jpeg chunk has 1 components, layer has 3 channel(s)');
  });
});

describe('png', () => {
  it('round-trips 8-bit and 16-bit, laid out as width x by height y*z', () => {
    const bytes = encodePng(smooth, shape, 1);
    const image = decodePngImage(bytes);
    expect([image.width, image.height, image.depth]).toEqual([32, 64, 8]);
    expect(decodePng(bytes, shape, 1, 'uint8')).toEqual(smooth);
    const wide = Uint16Array.from(smooth, (v, i) => v * 250 + (i % 7));
    expect(decodePng(encodePng(wide, shape, 1), shape, 1, 'uint16')).toEqual(wide);
  });

  it('round-trips 3 channels and names a depth mismatch', () => {
    const rgb = Uint8Array.from({ length: n * 3 }, (_, i) => (i * 31) & 255);
    expect(decodePng(encodePng(rgb, shape, 3), shape, 3, 'uint8')).toEqual(rgb);
    expect(() => decodePng(encodePng(smooth, shape, 1), shape, 1, 'uint16')).toThrow('png chunk has bit depth 8, layer data_type uint16 needs 16');
  });
});
