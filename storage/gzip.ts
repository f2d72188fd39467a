// gzip transport for stored objects. node:zlib measured fastest of the registry choices (pako, fflate,
// WebAssembly builds: bench/RESULTS.md, issue 13) for compression; inflating is digest's own
// WebAssembly decoder (assembly/inflate.ts), with node:zlib for what it does not take.
// The strategy matters as much as the level: EM images barely have repeated strings, so searching for
// them (the default strategy) costs three times the time of Huffman coding alone, for the same size.
import { constants, crc32, gunzipSync, gzipSync } from 'node:zlib';
import { huffmanDeflate, inflateInMemory, wasmKernels } from '../wasm/kernels.js';
import { CorruptData } from '../common/errors.js';

export const GZIP_STRATEGIES = ['default', 'rle', 'huffman'] as const;

export interface GzipOptions {
  /** 1..9 */
  level: number;
  strategy: (typeof GZIP_STRATEGIES)[number];
}

const STRATEGY = { default: constants.Z_DEFAULT_STRATEGY, rle: constants.Z_RLE, huffman: constants.Z_HUFFMAN_ONLY };

/** zlib's default level and strategy. */
export const DEFAULT_GZIP: GzipOptions = { level: 6, strategy: 'default' };

export function gzip(data: Uint8Array, options: GzipOptions = DEFAULT_GZIP): Uint8Array {
  const kernels = options.strategy === 'huffman' ? wasmKernels() : null;
  let out: Uint8Array;
  if (kernels) out = huffmanGzip(kernels, data);
  else {
    // memLevel 9 (256 KiB of state instead of 128) is 10-20% faster at the same size.
    const z = gzipSync(data, { level: options.level, strategy: STRATEGY[options.strategy], memLevel: 9 });
    out = new Uint8Array(z.buffer, z.byteOffset, z.byteLength);
  }
  // Coding cannot shrink high-entropy data (uniform noise): codes and block headers make it larger
  // (zlib at memLevel 9 by up to 0.1%, as its window may no longer hold a block to store), so such
  // data is stored as it is, in stored blocks: what digest writes never exceeds STORED_GZIP_BYTES.
  return out.length > storedGzipBytes(data.length) ? storedGzip(data) : out;
}

/**
 * Huffman-only gzip by the WebAssembly encoder (assembly/deflate.ts): the same bytes-out as zlib's
 * Huffman-only mode give or take a few header bytes, several times faster. The header is zlib's
 * (no name, no mtime, OS Unix); the trailer the CRC-32 and length of the data.
 */
function huffmanGzip(kernels: NonNullable<ReturnType<typeof wasmKernels>>, data: Uint8Array): Uint8Array {
  const { bytes, end } = huffmanDeflate(kernels, data, 10, 8);
  return withGzipFrame(bytes, end, data);
}

/** Writes the gzip header before and the trailer after the DEFLATE stream that ends at `end`. */
function withGzipFrame(bytes: Uint8Array, end: number, data: Uint8Array): Uint8Array {
  bytes.set([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  const trailer = new DataView(bytes.buffer, bytes.byteOffset + end, 8);
  trailer.setUint32(0, crc32(data), true);
  trailer.setUint32(4, data.length >>> 0, true);
  return bytes;
}

const STORED_BLOCK = 65_535;

/** The size of `n` bytes as a gzip of DEFLATE stored blocks: a 5-byte header per block of at most 65,535. */
export function storedGzipBytes(n: number): number {
  return 10 + n + 5 * Math.max(1, Math.ceil(n / STORED_BLOCK)) + 8;
}

/** `data` in a gzip of stored blocks (no coding at all). */
function storedGzip(data: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(storedGzipBytes(data.length));
  let o = 10;
  for (let at = 0; ; at += STORED_BLOCK) {
    const n = Math.min(STORED_BLOCK, data.length - at);
    const last = at + n >= data.length;
    bytes[o] = last ? 1 : 0; // BFINAL, BTYPE 00 (stored), padded to the byte
    bytes[o + 1] = n & 0xff;
    bytes[o + 2] = n >>> 8;
    bytes[o + 3] = ~n & 0xff;
    bytes[o + 4] = (~n >>> 8) & 0xff;
    bytes.set(data.subarray(at, at + n), o + 5);
    o += 5 + n;
    if (last) return withGzipFrame(bytes, o, data);
  }
}

export function isGzip(data: Uint8Array): boolean {
  return data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;
}

/**
 * The inflated bytes; `maxBytes` stops a small corrupt or hostile file from inflating without bound
 * (the caller knows how large the chunk it expects is).
 */
export function gunzip(data: Uint8Array, what: string, maxBytes?: number): Uint8Array {
  return gunzipInWebAssembly(data, maxBytes) ?? gunzipWithZlib(data, what, maxBytes);
}

/** node:zlib's gunzip: every gzip it takes (members, header fields), and what is wrong with the rest. */
export function gunzipWithZlib(data: Uint8Array, what: string, maxBytes?: number): Uint8Array {
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

/** Past this, node:zlib inflates: the WebAssembly memory a thread keeps stays within chunk sizes. */
const WASM_GUNZIP_MAX = 256 * 2 ** 20;

/**
 * The usual gzip (one member, no header fields but a name, the size its trailer says within
 * maxBytes) inflated in WebAssembly with its CRC-32 checked; null for anything else, or a stream it
 * finds fault with: node:zlib then inflates it or says what is wrong, so the outcome is zlib's.
 */
function gunzipInWebAssembly(data: Uint8Array, maxBytes: number | undefined): Uint8Array | null {
  const w = wasmKernels();
  if (!w || data.length < 18 || data[0] !== 0x1f || data[1] !== 0x8b || data[2] !== 8) return null;
  const flags = data[3];
  if ((flags & ~FNAME & ~FTEXT) !== 0) return null;
  let start = 10;
  if (flags & FNAME) {
    while (start < data.length && data[start] !== 0) start++;
    start++;
  }
  if (start + 8 > data.length) return null;
  const trailer = new DataView(data.buffer, data.byteOffset + data.length - 8, 8);
  const crc = trailer.getUint32(0, true),
    size = trailer.getUint32(4, true);
  if (size > (maxBytes ?? WASM_GUNZIP_MAX) || size > WASM_GUNZIP_MAX) return null;
  const out = inflateInMemory(w, data.subarray(start, data.length - 8), size);
  if (!out || crc32(out) !== crc) return null;
  // Copied into memory that is not zeroed first (every byte is written), and not with slice(): both
  // measured 3-8x slower for chunk sizes, slower than the inflating.
  const copy = Buffer.allocUnsafeSlow(out.length);
  copy.set(out);
  return new Uint8Array(copy.buffer, copy.byteOffset, copy.byteLength);
}

const FTEXT = 1,
  FNAME = 8;

/**
 * The largest gzip stream a reader accepts for `bytes` bytes: zlib's own worst case at its default
 * memLevel (deflateBound: 5 bytes per 16 KiB that coding does not shrink, as igneous, cloud-volume
 * and tensorstore write), plus the gzip frame and a little room for a name; digest's own writer
 * stays within storedGzipBytes, below it.
 */
export function gzipBound(bytes: number): number {
  return bytes + 5 * Math.ceil(bytes / 16_384) + 64;
}
