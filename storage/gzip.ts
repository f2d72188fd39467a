// gzip transport for stored objects. node:zlib measured faster than pako here (bench/RESULTS.md).
import { gunzipSync, gzipSync } from 'node:zlib';

export function gzip(data: Uint8Array): Uint8Array {
  return gzipSync(data, { level: 6 });
}

export function isGzip(data: Uint8Array): boolean {
  return data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;
}

export function gunzip(data: Uint8Array, what: string): Uint8Array {
  try {
    return gunzipSync(data);
  } catch (e) {
    throw new Error(`${what}: corrupt gzip data (${(e as Error).message})`);
  }
}
