// The WebAssembly kernels (assembly/kernels.ts, compiled to dist/assembly/kernels.wasm by `npm run
// build`), one instance per thread, fed slice by slice: a kernel call reads two input z-slices (or one,
// for 2x2x1) copied into its linear memory and writes one output slice, which is copied back out.
// Copies stay small (a slice), so the memory stays small whatever the volume.
import { readFileSync } from 'node:fs';
import { builtFile } from '../common/built.js';

interface Exports {
  memory: WebAssembly.Memory;
  average_u8(a: number, b: number, sx: number, ox: number, oy: number, dst: number, ostride: number, shift: number): void;
  average_u16(a: number, b: number, sx: number, ox: number, oy: number, dst: number, ostride: number, shift: number): void;
  average_f32(a: number, b: number, sx: number, ox: number, oy: number, dst: number, ostride: number, n: number): void;
  mode_u32(a: number, b: number, sx: number, ox: number, oy: number, dst: number, ostride: number): void;
  mode_u64(a: number, b: number, sx: number, ox: number, oy: number, dst: number, ostride: number): void;
  decode_cseg(src: number, n: number, start: number, sx: number, sy: number, sz: number, bx: number, by: number, bz: number, w: number, out: number): number;
  cseg_scratch_end(scratch: number, blockVoxels: number, blocks: number): number;
  cseg_begin(scratch: number, blockVoxels: number, blocks: number): void;
  cseg_layer(
    src: number,
    sx: number,
    sy: number,
    depth: number,
    bx: number,
    by: number,
    bz: number,
    w: number,
    out: number,
    length: number,
    gx: number,
    gy: number,
    gz: number,
  ): number;
  huffman_deflate(src: number, n: number, dst: number): number;
  inflate(src: number, n: number, dst: number, cap: number): number;
  inflate_consumed(): number;
  taubin_smooth(
    p: number,
    q: number,
    pins: number,
    start: number,
    neighbours: number,
    contour: number,
    n: number,
    lambda: number,
    mu: number,
    iterations: number,
    contourWeight: number,
  ): void;
  heap_base(): number;
}

let instance: Exports | null | undefined;
/** Where a call's data goes in linear memory: above the module's static data, 64-byte aligned. */
let BASE = 0;

/** This thread's kernels; null where WebAssembly SIMD is not available (the JS kernels then do all). */
export function wasmKernels(): Exports | null {
  if (instance === undefined) {
    try {
      const abort = () => {
        throw new Error('WebAssembly kernel aborted (an index out of range)');
      };
      instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(builtFile('assembly/kernels.wasm'))), { env: { abort } })
        .exports as unknown as Exports;
      BASE = (instance.heap_base() + 63) & ~63;
    } catch {
      instance = null;
    }
  }
  return instance;
}

export type SliceKernel = 'average_u8' | 'average_u16' | 'average_f32' | 'mode_u32' | 'mode_u64';

const align = (n: number) => (n + 15) & ~15;

/**
 * Runs `kernel` over input slices `a` and `b` (b === a for 2x2x1) of sx x sy elements, writing
 * ox x oy outputs with row stride `ostride` into `out` (which must hold oy rows of that stride).
 */
export function runSlice(
  w: Exports,
  kernel: SliceKernel,
  a: ArrayBufferView,
  b: ArrayBufferView,
  sx: number,
  ox: number,
  oy: number,
  out: ArrayBufferView,
  ostride: number,
  extra: number | undefined,
): void {
  // The output goes after both inputs, whose room is reserved too: for 2x2x1 (b === a) the input
  // is larger than the output, and the memory may be as small as the module started with.
  const same = a === b;
  const pa = BASE,
    pb = same ? pa : align(pa + a.byteLength),
    po = align(pb + b.byteLength);
  const bytes = reserve(w, po - BASE + out.byteLength);
  bytes.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), pa);
  if (!same) bytes.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), pb);
  (w[kernel] as (...args: number[]) => void)(pa, pb, sx, ox, oy, po, ostride, ...(extra === undefined ? [] : [extra]));
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes.subarray(po, po + out.byteLength));
}

/** Room in linear memory for `bytes` more bytes at BASE; the views of the memory are new after a grow. */
function reserve(w: Exports, bytes: number): Uint8Array {
  const need = BASE + bytes;
  if (need > w.memory.buffer.byteLength) w.memory.grow(Math.ceil((need - w.memory.buffer.byteLength) / 65536));
  return new Uint8Array(w.memory.buffer);
}

/**
 * Decodes a compressed_segmentation chunk in WebAssembly into linear memory and returns a view of the
 * words there: valid only until the next kernel call on this thread. Null when a channel is corrupt
 * (the JS decoder then names the fault).
 */
export function decodeCompressedSegmentationInMemory(
  w: Exports,
  words: Uint32Array,
  shape: [number, number, number],
  channels: number,
  blockSize: [number, number, number],
  wordsPerVoxel: 1 | 2,
): Uint32Array | null {
  const voxels = shape[0] * shape[1] * shape[2];
  const src = BASE,
    out = align(src + 4 * words.length + 16); // (one spare word: the decoder may read a word ahead)
  const bytes = reserve(w, out - BASE + 4 * voxels * channels * wordsPerVoxel);
  bytes.set(new Uint8Array(words.buffer, words.byteOffset, words.byteLength), src);
  for (let c = 0; c < channels; c++) {
    // Offsets are words of the chunk; the kernel takes them as i32, so one past the end (or above
    // 2^31) is left to the JS decoder, which names the fault.
    if (words[c] >= words.length) return null;
    let status: number;
    try {
      status = w.decode_cseg(
        src,
        words.length,
        words[c],
        shape[0],
        shape[1],
        shape[2],
        blockSize[0],
        blockSize[1],
        blockSize[2],
        wordsPerVoxel,
        out + 4 * c * voxels * wordsPerVoxel,
      );
    } catch {
      return null; // a trap (an access out of bounds): the JS decoder names the fault
    }
    if (status !== 0) return null;
  }
  return new Uint32Array(w.memory.buffer, out, voxels * channels * wordsPerVoxel);
}

/**
 * A compressed_segmentation chunk's words, encoded in WebAssembly (assembly/cseg.ts) from its labels
 * as 32-bit words (`wordsPerLabel` a label). One layer of blocks' z-slices is in linear memory at a
 * time and the output grows after them, so the memory holds a slab and the output, not the chunk.
 * Null when a lookup table would start 2^24 words or more into its channel (past what a block header
 * can address).
 */
export function encodeCompressedSegmentationInMemory(
  w: Exports,
  words: Uint32Array,
  shape: [number, number, number],
  channels: number,
  blockSize: [number, number, number],
  wordsPerLabel: 1 | 2,
): Uint32Array | null {
  const [sx, sy, sz] = shape,
    [bx, by, bz] = blockSize;
  const gx = Math.ceil(sx / bx),
    gy = Math.ceil(sy / by),
    gz = Math.ceil(sz / bz);
  const blocks = gx * gy * gz,
    blockVoxels = bx * by * bz,
    slice = sx * sy * wordsPerLabel;
  const slab = align(w.cseg_scratch_end(BASE, blockVoxels, blocks)),
    out = align(slab + 4 * slice * bz);
  // A block writes at most one value word a voxel and one table entry a voxel.
  const layerBound = gx * gy * blockVoxels * (1 + wordsPerLabel);
  let total = channels;
  reserve(w, out - BASE + 4 * total);
  for (let c = 0; c < channels; c++) {
    new Uint32Array(w.memory.buffer, out, channels)[c] = total;
    w.cseg_begin(BASE, blockVoxels, blocks);
    let length = 2 * blocks;
    for (let z = 0; z < gz; z++) {
      const depth = Math.min(bz, sz - z * bz);
      const from = c * sz * slice + z * bz * slice;
      reserve(w, out - BASE + 4 * (total + length + layerBound));
      new Uint32Array(w.memory.buffer, slab, depth * slice).set(words.subarray(from, from + depth * slice));
      length = w.cseg_layer(slab, sx, sy, depth, bx, by, bz, wordsPerLabel, out + 4 * total, length, gx, gy, z);
      if (length < 0) return null;
    }
    total += length;
  }
  return new Uint32Array(w.memory.buffer, out, total).slice();
}

/**
 * `data` as one Huffman-only DEFLATE block (assembly/deflate.ts), copied out with `head` bytes free
 * before it and `tail` after (room for a container's header and trailer).
 */
export function huffmanDeflate(w: Exports, data: Uint8Array, head: number, tail: number): { bytes: Uint8Array; start: number; end: number } {
  const src = BASE,
    dst = align(src + data.length + 16);
  const memory = reserve(w, dst - BASE + 2 * data.length + 1024);
  memory.set(data, src);
  const n = w.huffman_deflate(src, data.length, dst);
  const bytes = new Uint8Array(head + n + tail);
  bytes.set(new Uint8Array(w.memory.buffer, dst, n), head);
  return { bytes, start: head, end: head + n };
}

/**
 * The DEFLATE stream `deflate` inflated in WebAssembly (assembly/inflate.ts) when it makes exactly
 * `size` bytes and ends where its bytes end: a view of linear memory, valid until the next kernel call
 * on this thread. Null for anything else (corrupt, longer, shorter, bytes left over), which the
 * caller hands to node:zlib to say what is wrong.
 */
export function inflateInMemory(w: Exports, deflate: Uint8Array, size: number): Uint8Array | null {
  const src = BASE,
    dst = align(src + deflate.length + 16);
  // 16 zero bytes after the input (the bit reader loads 8 at a time) and 272 spare after the output
  // (the decoder checks its output's end once per symbol, and copies matches 8 bytes at a time).
  const memory = reserve(w, dst - BASE + size + 272);
  memory.set(deflate, src);
  memory.fill(0, src + deflate.length, src + deflate.length + 16);
  const n = w.inflate(src, deflate.length, dst, size);
  if (n !== size || w.inflate_consumed() !== deflate.length) return null;
  return new Uint8Array(w.memory.buffer, dst, n);
}

export interface SmoothingInput {
  /** 3 per vertex; smoothed in place. */
  positions: Float64Array;
  pins: Uint8Array;
  start: Uint32Array;
  neighbours: Uint32Array;
  contour: Uint32Array;
  lambda: number;
  mu: number;
  iterations: number;
  contourWeight: number;
}

/** Taubin smoothing's steps (assembly/smooth.ts) over a mesh copied into linear memory; the positions come back in place. */
export function taubinSmoothInMemory(w: Exports, m: SmoothingInput): void {
  const n = m.pins.length;
  const p = BASE,
    q = align(p + 8 * m.positions.length),
    pins = align(q + 8 * m.positions.length),
    start = align(pins + n),
    neighbours = align(start + 4 * m.start.length),
    contour = align(neighbours + 4 * m.neighbours.length),
    end = contour + 4 * m.contour.length;
  reserve(w, end - BASE);
  const buffer = w.memory.buffer;
  new Float64Array(buffer, p, m.positions.length).set(m.positions);
  new Uint8Array(buffer, pins, n).set(m.pins);
  new Uint32Array(buffer, start, m.start.length).set(m.start);
  new Uint32Array(buffer, neighbours, m.neighbours.length).set(m.neighbours);
  new Uint32Array(buffer, contour, m.contour.length).set(m.contour);
  w.taubin_smooth(p, q, pins, start, neighbours, contour, n, m.lambda, m.mu, m.iterations, m.contourWeight);
  m.positions.set(new Float64Array(w.memory.buffer, p, m.positions.length));
}
