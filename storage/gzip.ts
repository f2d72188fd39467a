// gzip transport for stored objects. node:zlib measured faster than pako here (bench/RESULTS.md).
import { gunzipSync, gzipSync } from 'node:zlib';
import { CorruptData } from '../common/errors.js';

export function gzip(data: Uint8Array, level = 6): Uint8Array {
  return gzipSync(data, { level });
}

export function isGzip(data: Uint8Array): boolean {
  return data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;
}

/**
 * The inflated bytes; `maxBytes` stops a small corrupt or hostile file from inflating without bound
 * (the caller knows how large the chunk it expects is).
 */
export function gunzip(data: Uint8Array, what: string, maxBytes?: number): Uint8Array {
  try {
    const out = gunzipSync(data, maxBytes === undefined ? {} : { maxOutputLength: Math.max(1, maxBytes) });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new CorruptData(`${what}: inflates to more than the ${maxBytes} bytes expected`, { cause: e });
    }
    throw new CorruptData(`${what}: corrupt gzip data (${(e as Error).message})`, { cause: e });
  }
}

/** The largest gzip stream (stored blocks, header, trailer) that holds `bytes` bytes. */
export function gzipBound(bytes: number): number {
  return bytes + 5 * Math.ceil(bytes / 16_384) + 64;
}
