// jpeg chunk encoding (uint8, 1 or 3 channels): the chunk is one image of width x and height y*z*...,
// rows concatenated in [x, y, z] Fortran order. One-channel chunks are written as true single-component
// (grayscale) baseline JPEGs by the encoder below, since Neuroglancer expects the component count to
// match num_channels; three-channel chunks go through jpeg-js. Decoding uses jpeg-js.
import jpegJs from 'jpeg-js';
import { CorruptData } from '../common/errors.js';
import { Vec3 } from '../precomputed/box.js';

const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
  35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];
// JPEG standard (ITU T.81 Annex K) luminance quantisation table, natural order.
const LUMA_QUANT = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
  18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
// Annex K standard luminance Huffman tables: code counts per length 1..16, then symbols.
const DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_VALUES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const AC_BITS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
const AC_VALUES = [
  0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08,
  0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
  0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59,
  0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
  0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6,
  0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
  0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
];

interface Code { code: Uint16Array; length: Uint8Array }

/** Canonical Huffman codes from the counts per length (T.81 Annex C). */
function huffmanCodes(bits: number[], values: number[]): Code {
  const code = new Uint16Array(256), length = new Uint8Array(256);
  let next = 0, k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < bits[len - 1]; i++, k++) {
      code[values[k]] = next++;
      length[values[k]] = len;
    }
    next <<= 1;
  }
  return { code, length };
}
const DC_CODES = huffmanCodes(DC_BITS, DC_VALUES);
const AC_CODES = huffmanCodes(AC_BITS, AC_VALUES);

// cos((2x+1) u pi / 16) * C(u) / 2, for the separable 8-point forward DCT.
const DCT = new Float64Array(64);
for (let u = 0; u < 8; u++) for (let x = 0; x < 8; x++) DCT[u * 8 + x] = (u === 0 ? Math.SQRT1_2 : 1) * 0.5 * Math.cos(((2 * x + 1) * u * Math.PI) / 16);

class BitWriter {
  bytes = new Uint8Array(4096);
  length = 0;
  private acc = 0;
  private count = 0;
  byte(b: number): void {
    if (this.length === this.bytes.length) {
      const next = new Uint8Array(this.bytes.length * 2);
      next.set(this.bytes);
      this.bytes = next;
    }
    this.bytes[this.length++] = b;
  }
  bits(value: number, n: number): void {
    for (let i = n - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((value >>> i) & 1);
      if (++this.count === 8) {
        this.byte(this.acc);
        if (this.acc === 0xff) this.byte(0); // byte stuffing inside entropy-coded data
        this.acc = 0;
        this.count = 0;
      }
    }
  }
  flush(): void {
    while (this.count !== 0) this.bits(1, 1);
  }
}

function category(v: number): number {
  let a = Math.abs(v), n = 0;
  while (a > 0) { a >>= 1; n++; }
  return n;
}

function writeValue(out: BitWriter, v: number, n: number): void {
  if (n > 0) out.bits(v >= 0 ? v : v + (1 << n) - 1, n);
}

/** A baseline, single-component JPEG of `pixels` (width x height, 8-bit). */
export function encodeGrayscaleJpeg(pixels: Uint8Array, width: number, height: number, quality = 85): Uint8Array {
  if (width < 1 || height < 1 || width > 65535 || height > 65535) throw new Error(`jpeg: image ${width}x${height} is outside 1..65535`);
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  const scale = q < 50 ? 5000 / q : 200 - 2 * q;
  const quant = LUMA_QUANT.map((v) => Math.min(255, Math.max(1, Math.floor((v * scale + 50) / 100))));
  const out = new BitWriter();
  const segment = (marker: number, payload: number[]) => {
    out.byte(0xff); out.byte(marker);
    out.byte((payload.length + 2) >> 8); out.byte((payload.length + 2) & 0xff);
    for (const b of payload) out.byte(b);
  };
  out.byte(0xff); out.byte(0xd8); // SOI
  segment(0xe0, [0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]); // JFIF APP0
  segment(0xdb, [0, ...ZIGZAG.map((n) => quant[n])]);
  segment(0xc0, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 1, 1, 0x11, 0]);
  segment(0xc4, [0x00, ...DC_BITS, ...DC_VALUES, 0x10, ...AC_BITS, ...AC_VALUES]);
  segment(0xda, [1, 1, 0x00, 0, 63, 0]);
  const block = new Float64Array(64), tmp = new Float64Array(64);
  const coef = new Int32Array(64);
  let previousDc = 0;
  for (let by = 0; by < height; by += 8) {
    for (let bx = 0; bx < width; bx += 8) {
      for (let y = 0; y < 8; y++) {
        const row = Math.min(by + y, height - 1) * width; // edge pixels repeat into the padding
        for (let x = 0; x < 8; x++) block[y * 8 + x] = pixels[row + Math.min(bx + x, width - 1)] - 128;
      }
      for (let y = 0; y < 8; y++) for (let u = 0; u < 8; u++) {
        let s = 0;
        for (let x = 0; x < 8; x++) s += DCT[u * 8 + x] * block[y * 8 + x];
        tmp[y * 8 + u] = s;
      }
      for (let v = 0; v < 8; v++) for (let u = 0; u < 8; u++) {
        let s = 0;
        for (let y = 0; y < 8; y++) s += DCT[v * 8 + y] * tmp[y * 8 + u];
        coef[v * 8 + u] = Math.round(s / quant[v * 8 + u]);
      }
      const dcDiff = coef[0] - previousDc;
      previousDc = coef[0];
      const dcCat = category(dcDiff);
      out.bits(DC_CODES.code[dcCat], DC_CODES.length[dcCat]);
      writeValue(out, dcDiff, dcCat);
      let run = 0;
      for (let k = 1; k < 64; k++) {
        const v = coef[ZIGZAG[k]];
        if (v === 0) { run++; continue; }
        while (run > 15) { out.bits(AC_CODES.code[0xf0], AC_CODES.length[0xf0]); run -= 16; }
        const cat = category(v);
        const symbol = (run << 4) | cat;
        out.bits(AC_CODES.code[symbol], AC_CODES.length[symbol]);
        writeValue(out, v, cat);
        run = 0;
      }
      if (run > 0) out.bits(AC_CODES.code[0], AC_CODES.length[0]); // EOB
    }
  }
  out.flush();
  out.byte(0xff); out.byte(0xd9); // EOI
  return out.bytes.slice(0, out.length);
}

/** [x, y, z, c] uint8 voxels -> JPEG of width x and height y*z. */
export function encodeJpeg(voxels: Uint8Array, shape: Vec3, channels: number, quality = 85): Uint8Array {
  const pixels = shape[0] * shape[1] * shape[2];
  if (channels === 1) return encodeGrayscaleJpeg(voxels, shape[0], shape[1] * shape[2], quality);
  if (channels !== 3) throw new Error(`jpeg encoding needs 1 or 3 channels, not ${channels}`);
  const rgba = new Uint8Array(pixels * 4);
  for (let i = 0; i < pixels; i++) {
    for (let c = 0; c < 3; c++) rgba[i * 4 + c] = voxels[c * pixels + i];
    rgba[i * 4 + 3] = 255;
  }
  return new Uint8Array(jpegJs.encode({ data: rgba, width: shape[0], height: shape[1] * shape[2] }, quality).data);
}

export interface JpegFrame { width: number; height: number; components: number }

/** The start-of-frame header's size and component count, or null if there is none. */
export function jpegFrame(bytes: Uint8Array): JpegFrame | null {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  for (let i = 2; i + 9 < bytes.length; ) {
    if (bytes[i] !== 0xff) return null;
    const marker = bytes[i + 1];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: (bytes[i + 5] << 8) | bytes[i + 6], width: (bytes[i + 7] << 8) | bytes[i + 8], components: bytes[i + 9] };
    }
    i += 2 + ((bytes[i + 2] << 8) | bytes[i + 3]);
  }
  return null;
}

/**
 * The frame is checked against the chunk before anything is decoded, so that a small file declaring a
 * huge image (or a fuzzed one) cannot make the decoder allocate more than the chunk.
 */
export function decodeJpeg(bytes: Uint8Array, shape: Vec3, channels: number): Uint8Array {
  const pixels = shape[0] * shape[1] * shape[2];
  const frame = jpegFrame(bytes);
  if (!frame) throw new CorruptData('jpeg chunk is corrupt: no start-of-frame header');
  if (frame.components !== channels) throw new CorruptData(`jpeg chunk has ${frame.components} components, layer has ${channels} channel(s)`);
  if (frame.width !== shape[0] || frame.height !== shape[1] * shape[2]) {
    throw new CorruptData(`jpeg chunk is ${frame.width}x${frame.height}, expected ${shape[0]}x${shape[1] * shape[2]} for shape [${shape}]`);
  }
  let image;
  try {
    // jpeg-js hands back RGB triplets whatever the component count (grayscale is replicated).
    image = jpegJs.decode(bytes, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: Math.ceil(pixels / 1e6), maxMemoryUsageInMB: Math.ceil((pixels * 16) / 2 ** 20) + 4 });
  } catch (e) {
    throw new CorruptData(`jpeg chunk is corrupt: ${(e as Error).message}`, { cause: e });
  }
  if (image.width * image.height !== pixels) throw new CorruptData(`jpeg chunk is ${image.width}x${image.height}, expected ${pixels} pixels for shape [${shape}]`);
  const out = new Uint8Array(pixels * channels);
  for (let i = 0; i < pixels; i++) for (let c = 0; c < channels; c++) out[c * pixels + i] = image.data[i * 3 + c];
  return out;
}
