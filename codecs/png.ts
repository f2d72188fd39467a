// png chunk encoding (uint8 or uint16, 1-4 channels): one image of width x and height y*z, channels interleaved.
import { decode, encode } from 'fast-png';
import { inflateSync } from 'node:zlib';
import { CorruptData, InvalidInput } from '../common/errors.js';
import { Vec3 } from '../common/box.js';
import { ChunkCodec } from './codec.js';

export function encodePng(voxels: Uint8Array | Uint16Array, shape: Vec3, channels: number): Uint8Array {
  if (channels < 1 || channels > 4) throw new InvalidInput(`png encoding needs 1 to 4 channels, not ${channels}`);
  const pixels = shape[0] * shape[1] * shape[2];
  const data = voxels instanceof Uint16Array ? new Uint16Array(pixels * channels) : new Uint8Array(pixels * channels);
  for (let c = 0; c < channels; c++) for (let i = 0; i < pixels; i++) data[i * channels + c] = voxels[c * pixels + i];
  return encode({ width: shape[0], height: shape[1] * shape[2], data, depth: voxels instanceof Uint16Array ? 16 : 8, channels });
}

const COLOR_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

export interface PngHeader {
  width: number;
  height: number;
  depth: number;
  channels: number;
}

/** The IHDR header, read without decoding anything. */
export function pngHeader(bytes: Uint8Array, what: string): PngHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 33 || view.getUint32(0) !== 0x89504e47 || view.getUint32(12) !== 0x49484452) throw new CorruptData(`${what}: not a PNG (no IHDR header)`);
  const channels = COLOR_CHANNELS[bytes[25]];
  if (channels === undefined) throw new CorruptData(`${what}: PNG color type ${bytes[25]} is not valid`);
  return { width: view.getUint32(16), height: view.getUint32(20), depth: bytes[24], channels };
}

/**
 * Decodes a PNG whose header has already been checked against the expected image, after making sure
 * its compressed data inflates to no more than such an image holds: fast-png would otherwise inflate a
 * small hostile file without bound.
 */
export function decodePngChecked(bytes: Uint8Array, header: PngHeader, what: string) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data: Uint8Array[] = [];
  // Only the chunks that make the pixels go to the decoder: ancillary ones (an iCCP profile, zTXt,
  // iTXt) are compressed too, and fast-png would inflate them without bound.
  const kept: Uint8Array[] = [bytes.subarray(0, 8)];
  for (let p = 8; p + 8 <= bytes.length;) {
    const length = view.getUint32(p),
      type = view.getUint32(p + 4);
    if (p + 12 + length > bytes.length) throw new CorruptData(`${what}: PNG chunk at byte ${p} runs past the end`);
    if (type === 0x49444154) data.push(bytes.subarray(p + 8, p + 8 + length));
    if (DECODED_CHUNKS.has(type)) kept.push(bytes.subarray(p, p + 12 + length));
    p += 12 + length;
  }
  const rowBytes = Math.ceil((header.width * header.channels * header.depth) / 8);
  const limit = 2 * header.height * (rowBytes + 1) + 64; // interlaced images carry a few more filter bytes
  try {
    inflateSync(Buffer.concat(data), { maxOutputLength: limit });
  } catch (e) {
    throw new CorruptData(`${what}: corrupt PNG data (${(e as Error).message})`, { cause: e });
  }
  try {
    return decode(Buffer.concat(kept));
  } catch (e) {
    throw new CorruptData(`${what}: corrupt PNG (${(e as Error).message})`, { cause: e });
  }
}

/** IHDR, PLTE, tRNS, IDAT, IEND: what the pixels are made of. */
const DECODED_CHUNKS = new Set([0x49484452, 0x504c5445, 0x74524e53, 0x49444154, 0x49454e44]);

export function decodePng(bytes: Uint8Array, shape: Vec3, channels: number, dtype: 'uint8' | 'uint16'): Uint8Array | Uint16Array {
  const header = pngHeader(bytes, 'png chunk');
  const pixels = shape[0] * shape[1] * shape[2];
  const depth = dtype === 'uint16' ? 16 : 8;
  if (header.width !== shape[0] || header.height !== shape[1] * shape[2]) {
    throw new CorruptData(`png chunk is ${header.width}x${header.height}, expected ${shape[0]}x${shape[1] * shape[2]} for shape [${shape}]`);
  }
  if (header.depth !== depth) throw new CorruptData(`png chunk has bit depth ${header.depth}, layer data_type ${dtype} needs ${depth}`);
  if (header.channels !== channels) throw new CorruptData(`png chunk has ${header.channels} channels, layer has ${channels}`);
  const image = decodePngChecked(bytes, header, 'png chunk');
  const out = dtype === 'uint16' ? new Uint16Array(pixels * channels) : new Uint8Array(pixels * channels);
  for (let c = 0; c < channels; c++) for (let i = 0; i < pixels; i++) out[c * pixels + i] = image.data[i * channels + c] as number;
  return out;
}

export const pngCodec: ChunkCodec = {
  refuses: (dataType) => (dataType !== 'uint8' && dataType !== 'uint16' ? `needs data_type uint8 or uint16, not ${dataType}` : undefined),
  encode: (array, shape, f) => encodePng(array as Uint8Array | Uint16Array, shape, f.channels),
  decode: (bytes, shape, f) => decodePng(bytes, shape, f.channels, f.dataType as 'uint8' | 'uint16'),
  maxBytes: (raw) => 4 * raw + 65_536,
  gzip: () => false,
  contentType: 'image/png',
  lossy: false,
  compressed: true,
  compression: 0.7,
};
