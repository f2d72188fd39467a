// jpeg chunk encoding (uint8, 1 or 3 channels): the chunk is one image of width x and height y*z,
// rows concatenated in [x, y, z] Fortran order; one channel is a true single-component (grayscale)
// JPEG, as Neuroglancer expects the component count to match num_channels. Encoding and decoding are
// libjpeg-turbo's (the @julusian/jpeg-turbo package carries it, built, inside the npm package).
import jpegTurbo from '@julusian/jpeg-turbo';
import { CorruptData, InvalidInput } from '../common/errors.js';
import { Vec3 } from '../common/box.js';
import { ChunkCodec } from './codec.js';

export const DEFAULT_JPEG_QUALITY = 85;

/** [x, y, z, c] uint8 voxels -> JPEG of width x and height y*z (c = 1 or 3, channel-major in `voxels`). */
export function encodeJpeg(voxels: Uint8Array, shape: Vec3, channels: number, quality = DEFAULT_JPEG_QUALITY): Uint8Array {
  const width = shape[0],
    height = shape[1] * shape[2];
  if (width < 1 || height < 1 || width > 65535 || height > 65535) throw new InvalidInput(`jpeg: a chunk of ${width} x ${height} pixels is outside 1..65535`);
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  if (channels === 1) return compressed(bufferOf(voxels), { format: jpegTurbo.FORMAT_GRAY, width, height, subsampling: jpegTurbo.SAMP_GRAY, quality: q });
  if (channels !== 3) throw new InvalidInput(`jpeg encoding needs 1 or 3 channels, not ${channels}`);
  const pixels = width * height;
  const rgb = (scratch.rgb = grown(scratch.rgb, pixels * 3));
  for (let i = 0, o = 0; i < pixels; i++, o += 3) {
    rgb[o] = voxels[i];
    rgb[o + 1] = voxels[pixels + i];
    rgb[o + 2] = voxels[2 * pixels + i];
  }
  return compressed(rgb.subarray(0, pixels * 3), { format: jpegTurbo.FORMAT_RGB, width, height, subsampling: jpegTurbo.SAMP_444, quality: q });
}

/**
 * This thread's buffers, kept from chunk to chunk: the compressor's output, which the binding would
 * otherwise allocate at the worst-case size for every chunk (526 KB for 128x128x64, a result then
 * holding all of it), and the interleaved pixels of a 3-channel chunk.
 */
const scratch: { out?: Buffer; rgb?: Buffer } = {};
const grown = (buffer: Buffer | undefined, size: number) => (buffer && buffer.length >= size ? buffer : Buffer.allocUnsafe(size));

/** The JPEG of `pixels` (exactly the image's), compressed into this thread's output buffer and copied out at its size. */
function compressed(pixels: Buffer, options: jpegTurbo.EncodeOptions): Uint8Array {
  const out = (scratch.out = grown(scratch.out, jpegTurbo.bufferSize(options)));
  return new Uint8Array(jpegTurbo.compressSync(pixels, out, options));
}

export interface JpegFrame {
  width: number;
  height: number;
  components: number;
}

/** The start-of-frame header's size and component count, or null if there is none. */
export function jpegFrame(bytes: Uint8Array): JpegFrame | null {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  for (let i = 2; i + 9 < bytes.length;) {
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
 * huge image (or a fuzzed one) cannot make the decoder allocate more than the chunk; the decoder then
 * writes into a buffer of exactly the chunk's size.
 */
export function decodeJpeg(bytes: Uint8Array, shape: Vec3, channels: number): Uint8Array {
  const pixels = shape[0] * shape[1] * shape[2];
  const frame = jpegFrame(bytes);
  if (!frame) throw new CorruptData('jpeg chunk is corrupt: no start-of-frame header');
  if (frame.components !== channels) throw new CorruptData(`jpeg chunk has ${frame.components} components, layer has ${channels} channel(s)`);
  if (frame.width !== shape[0] || frame.height !== shape[1] * shape[2]) {
    throw new CorruptData(`jpeg chunk is ${frame.width}x${frame.height}, expected ${shape[0]}x${shape[1] * shape[2]} for shape [${shape}]`);
  }
  const out = Buffer.allocUnsafe(pixels * channels);
  try {
    jpegTurbo.decompressSync(bufferOf(bytes), out, { format: channels === 1 ? jpegTurbo.FORMAT_GRAY : jpegTurbo.FORMAT_RGB });
  } catch (e) {
    throw new CorruptData(`jpeg chunk is corrupt: ${(e as Error).message}`, { cause: e });
  }
  if (channels === 1) return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  const planar = new Uint8Array(pixels * 3);
  for (let i = 0, o = 0; i < pixels; i++, o += 3) {
    planar[i] = out[o];
    planar[pixels + i] = out[o + 1];
    planar[2 * pixels + i] = out[o + 2];
  }
  return planar;
}

function bufferOf(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export const jpegCodec: ChunkCodec = {
  refuses: (dataType, channels) =>
    dataType !== 'uint8' || (channels !== 1 && channels !== 3) ? `needs data_type uint8 with 1 or 3 channels, not ${dataType} with ${channels}` : undefined,
  encode: (array, shape, f) => encodeJpeg(array as Uint8Array, shape, f.channels),
  decode: (bytes, shape, f) => decodeJpeg(bytes, shape, f.channels),
  maxBytes: (raw) => 4 * raw + 65_536,
  gzip: () => false,
  contentType: 'image/jpeg',
  lossy: true,
  compressed: true,
  compression: 0.12,
};
