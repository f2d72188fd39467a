// png chunk encoding (uint8 or uint16, 1-4 channels): one image of width x and height y*z, channels interleaved.
import { decode, encode } from 'fast-png';
import { Vec3 } from '../precomputed/box.js';

export function encodePng(voxels: Uint8Array | Uint16Array, shape: Vec3, channels: number): Uint8Array {
  if (channels < 1 || channels > 4) throw new Error(`png encoding needs 1 to 4 channels, not ${channels}`);
  const pixels = shape[0] * shape[1] * shape[2];
  const data = voxels instanceof Uint16Array ? new Uint16Array(pixels * channels) : new Uint8Array(pixels * channels);
  for (let c = 0; c < channels; c++) for (let i = 0; i < pixels; i++) data[i * channels + c] = voxels[c * pixels + i];
  return encode({ width: shape[0], height: shape[1] * shape[2], data, depth: voxels instanceof Uint16Array ? 16 : 8, channels });
}

export function decodePng(bytes: Uint8Array, shape: Vec3, channels: number, dtype: 'uint8' | 'uint16'): Uint8Array | Uint16Array {
  let image;
  try {
    image = decode(bytes);
  } catch (e) {
    throw new Error(`png chunk is corrupt: ${(e as Error).message}`);
  }
  const pixels = shape[0] * shape[1] * shape[2];
  if (image.width * image.height !== pixels) throw new Error(`png chunk is ${image.width}x${image.height}, expected ${pixels} pixels for shape [${shape}]`);
  const depth = dtype === 'uint16' ? 16 : 8;
  if (image.depth !== depth) throw new Error(`png chunk has bit depth ${image.depth}, layer data_type ${dtype} needs ${depth}`);
  if (image.channels !== channels) throw new Error(`png chunk has ${image.channels} channels, layer has ${channels}`);
  const out = dtype === 'uint16' ? new Uint16Array(pixels * channels) : new Uint8Array(pixels * channels);
  for (let c = 0; c < channels; c++) for (let i = 0; i < pixels; i++) out[c * pixels + i] = image.data[i * channels + c] as number;
  return out;
}
