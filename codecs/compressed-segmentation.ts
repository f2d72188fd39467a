// Neuroglancer's compressed_segmentation encoding (uint32 and uint64, any block size, multi-channel),
// as specified in neuroglancer src/sliceview/compressed_segmentation/README.md. Labels are handled as
// 32-bit words (1 per uint32 label, low+high per uint64) so no BigInt is touched. Both directions run
// in WebAssembly (assembly/cseg.ts, assembly/kernels.ts) where it is available; the JS loops here are
// the fallback and the reference they are tested against. The encoder finds a block's distinct labels
// with a stamped hash table and shares identical lookup tables through a hash of their words; the
// decoder reads the input in place and fills single-label blocks by rows.
// The bytes are those of test/reference-cseg.ts (the readable version), which tests hold this to.
import { CorruptData, InvalidInput } from '../common/errors.js';
import { Vec3 } from '../common/box.js';
import { labelWords } from '../common/dtype.js';
import { decodeCompressedSegmentationInMemory, encodeCompressedSegmentationInMemory, wasmKernels } from '../wasm/kernels.js';
import { ChunkCodec } from './codec.js';

const ALLOWED_BITS = [0, 1, 2, 4, 8, 16, 32];

function bitsFor(distinct: number): number {
  for (const b of ALLOWED_BITS) if (2 ** b >= distinct) return b;
  throw new InvalidInput(`${distinct} distinct values cannot be encoded`);
}

/** Growable uint32 output; new words are zero (value words are OR-ed in). */
class WordWriter {
  words = new Uint32Array(4096);
  length = 0;
  reserve(n: number): number {
    if (this.length + n > this.words.length) {
      const next = new Uint32Array(Math.max(this.words.length * 2, this.length + n));
      next.set(this.words.subarray(0, this.length));
      this.words = next;
    }
    const at = this.length;
    this.length += n;
    return at;
  }
}

/** Per-block scratch of the encoder, sized to the block, reused for every block. */
class BlockScratch {
  readonly lo: Uint32Array;
  readonly hi: Uint32Array;
  readonly index: Uint32Array; // per voxel: its label's first-seen number
  readonly order: Uint32Array; // sorted first-seen numbers
  readonly rank: Uint32Array; // first-seen number -> sorted position
  // Open addressing over (lo, hi): a slot is live when its stamp is this block's.
  readonly slotStamp: Uint32Array;
  readonly slotLo: Uint32Array;
  readonly slotHi: Uint32Array;
  readonly slotIndex: Uint32Array;
  readonly mask: number;
  stamp = 0;

  constructor(blockVoxels: number) {
    this.lo = new Uint32Array(blockVoxels);
    this.hi = new Uint32Array(blockVoxels);
    this.index = new Uint32Array(blockVoxels);
    this.order = new Uint32Array(blockVoxels);
    this.rank = new Uint32Array(blockVoxels);
    let size = 16;
    while (size < 2 * blockVoxels) size *= 2;
    this.slotStamp = new Uint32Array(size);
    this.slotLo = new Uint32Array(size);
    this.slotHi = new Uint32Array(size);
    this.slotIndex = new Uint32Array(size);
    this.mask = size - 1;
  }
}

/** A block header holds a lookup table's offset in 24 bits. */
const MAX_TABLE_OFFSET = 2 ** 24;

const tooLarge = (shape: Vec3, blockSize: Vec3) =>
  new InvalidInput(
    `compressed_segmentation: chunk [${shape}] (blocks [${blockSize}]) has so many labels that a lookup table would start past the 2^24 words a block header can address; write smaller chunks`,
  );

/** The chunk's bytes: encoded in WebAssembly, or by the JS loops below where WebAssembly is missing. */
export function encodeCompressedSegmentation(labels: Uint32Array | BigUint64Array, shape: Vec3, channels: number, blockSize: Vec3): Uint8Array {
  const w = wasmKernels();
  if (!w) return encodeCompressedSegmentationJs(labels, shape, channels, blockSize);
  const { words, wordsPerLabel } = labelWords(labels);
  checkLength(labels, shape, channels);
  const out = encodeCompressedSegmentationInMemory(w, words, shape, channels, blockSize, wordsPerLabel);
  if (!out) throw tooLarge(shape, blockSize);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

function checkLength(labels: Uint32Array | BigUint64Array, shape: Vec3, channels: number): void {
  if (labels.length !== shape[0] * shape[1] * shape[2] * channels)
    throw new InvalidInput(`compressed_segmentation: ${labels.length} labels do not fill shape [${shape}] x ${channels}`);
}

/** The plain encoder: the reference the WebAssembly one is held to, and the fallback. */
export function encodeCompressedSegmentationJs(labels: Uint32Array | BigUint64Array, shape: Vec3, channels: number, blockSize: Vec3): Uint8Array {
  const { words, wordsPerLabel } = labelWords(labels);
  const voxels = shape[0] * shape[1] * shape[2];
  checkLength(labels, shape, channels);
  const out = new WordWriter();
  out.reserve(channels);
  const scratch = new BlockScratch(blockSize[0] * blockSize[1] * blockSize[2]);
  for (let c = 0; c < channels; c++) {
    out.words[c] = out.length;
    encodeChannel(words, c * voxels * wordsPerLabel, wordsPerLabel, shape, blockSize, out, scratch);
  }
  return new Uint8Array(out.words.buffer, 0, out.length * 4).slice();
}

function encodeChannel(src: Uint32Array, base: number, w: 1 | 2, shape: Vec3, bs: Vec3, out: WordWriter, s: BlockScratch): void {
  const [sx, sy, sz] = shape;
  const [bx, by, bz] = bs;
  const gx = Math.ceil(sx / bx),
    gy = Math.ceil(sy / by),
    gz = Math.ceil(sz / bz);
  const channelStart = out.length;
  const headerAt = out.reserve(2 * gx * gy * gz);
  const blockVoxels = bx * by * bz;
  const tables = new TableIndex();
  for (let z = 0; z < gz; z++)
    for (let y = 0; y < gy; y++)
      for (let x = 0; x < gx; x++) {
        const distinct = distinctLabels(src, base, w, shape, bs, x, y, z, s);
        sortDistinct(s, distinct);
        const bits = bitsFor(distinct);
        // Packed values first, then the lookup table (shared with an earlier identical one).
        const valuesAt = out.reserve((bits * blockVoxels + 31) >>> 5);
        if (bits > 0) packValues(out.words, valuesAt, s, bits, blockVoxels);
        const tableAt = tables.place(out, s, distinct, w, channelStart);
        if (tableAt >= MAX_TABLE_OFFSET) throw tooLarge(shape, bs);
        const h = headerAt + 2 * (x + gx * (y + gy * z));
        out.words[h] = (tableAt | (bits << 24)) >>> 0;
        out.words[h + 1] = valuesAt - channelStart;
      }
}

/**
 * Numbers each voxel of block (x, y, z) by its label's first appearance (padding voxels repeat the
 * nearest voxel inside the chunk); returns how many distinct labels there are.
 */
function distinctLabels(
  src: Uint32Array,
  base: number,
  w: 1 | 2,
  [sx, sy, sz]: Vec3,
  [bx, by, bz]: Vec3,
  x: number,
  y: number,
  z: number,
  s: BlockScratch,
): number {
  const stamp = ++s.stamp;
  const { lo, hi, index, slotStamp, slotLo, slotHi, slotIndex, mask } = s;
  let distinct = 0,
    lastLo = -1,
    lastHi = -1,
    last = 0;
  let i = 0;
  for (let vz = 0; vz < bz; vz++) {
    const zz = Math.min(z * bz + vz, sz - 1);
    for (let vy = 0; vy < by; vy++) {
      const yy = Math.min(y * by + vy, sy - 1);
      const row = base + w * sx * (yy + sy * zz);
      for (let vx = 0; vx < bx; vx++, i++) {
        const at = row + w * Math.min(x * bx + vx, sx - 1);
        const l = src[at],
          hv = w === 2 ? src[at + 1] : 0;
        if (l === lastLo && hv === lastHi) {
          index[i] = last;
          continue;
        }
        let slot = (Math.imul(l, 0x9e3779b1) ^ Math.imul(hv, 0x85ebca77)) & mask;
        while (slotStamp[slot] === stamp && (slotLo[slot] !== l || slotHi[slot] !== hv)) slot = (slot + 1) & mask;
        if (slotStamp[slot] !== stamp) {
          slotStamp[slot] = stamp;
          slotLo[slot] = l;
          slotHi[slot] = hv;
          slotIndex[slot] = distinct;
          lo[distinct] = l;
          hi[distinct] = hv;
          distinct++;
        }
        last = slotIndex[slot];
        lastLo = l;
        lastHi = hv;
        index[i] = last;
      }
    }
  }
  return distinct;
}

/** order[] = first-seen numbers by ascending (hi, lo); rank[] its inverse (the table Neuroglancer's encoder writes). */
function sortDistinct(s: BlockScratch, n: number): void {
  const { lo, hi, order, rank } = s;
  for (let k = 0; k < n; k++) order[k] = k;
  if (n > 1) {
    if (n <= 64) {
      for (let k = 1; k < n; k++) {
        const v = order[k],
          vh = hi[v],
          vl = lo[v];
        let j = k - 1;
        while (j >= 0 && (hi[order[j]] > vh || (hi[order[j]] === vh && lo[order[j]] > vl))) {
          order[j + 1] = order[j];
          j--;
        }
        order[j + 1] = v;
      }
    } else {
      const sorted = Array.from(order.subarray(0, n)).sort((a, b) => hi[a] - hi[b] || lo[a] - lo[b]);
      order.set(sorted);
    }
  }
  for (let k = 0; k < n; k++) rank[order[k]] = k;
}

function packValues(words: Uint32Array, at: number, s: BlockScratch, bits: number, blockVoxels: number): void {
  const { index, rank } = s;
  if (bits === 32) {
    for (let v = 0; v < blockVoxels; v++) words[at + v] = rank[index[v]];
    return;
  }
  const perWord = 32 / bits;
  for (let v = 0, word = at; v < blockVoxels; word++) {
    let acc = 0;
    const end = Math.min(blockVoxels, v + perWord);
    for (let shift = 0; v < end; v++, shift += bits) acc |= rank[index[v]] << shift;
    words[word] = acc >>> 0;
  }
}

/** Lookup tables written so far in a channel, found again by a hash of their words. */
class TableIndex {
  /** hash -> [offset from the channel start, entries] of each table with that hash. */
  private readonly byHash = new Map<number, [number, number][]>();

  /** The table's offset from the channel start: an identical earlier one, or a new one appended. */
  place(out: WordWriter, s: BlockScratch, n: number, w: 1 | 2, channelStart: number): number {
    const { lo, hi, order } = s;
    let h = 0x811c9dc5 ^ n;
    for (let k = 0; k < n; k++) {
      h = Math.imul(h ^ lo[order[k]], 0x01000193);
      if (w === 2) h = Math.imul(h ^ hi[order[k]], 0x01000193);
    }
    const candidates = this.byHash.get(h);
    if (candidates) {
      for (const [at, entries] of candidates) if (entries === n && sameTable(out.words, channelStart + at, s, n, w)) return at;
    }
    const at = out.reserve(n * w);
    for (let k = 0; k < n; k++) {
      out.words[at + k * w] = lo[order[k]];
      if (w === 2) out.words[at + k * w + 1] = hi[order[k]];
    }
    const offset = at - channelStart;
    if (candidates) candidates.push([offset, n]);
    else this.byHash.set(h, [[offset, n]]);
    return offset;
  }
}

/** Does the table of n entries at `at` hold exactly this block's sorted labels? */
function sameTable(words: Uint32Array, at: number, s: BlockScratch, n: number, w: 1 | 2): boolean {
  for (let k = 0; k < n; k++) {
    if (words[at + k * w] !== s.lo[s.order[k]]) return false;
    if (w === 2 && words[at + k * w + 1] !== s.hi[s.order[k]]) return false;
  }
  return true;
}

/**
 * The chunk's voxels. `transient`: the result may be a view of memory that the next decode on this
 * thread reuses (for a caller that copies it out at once, as Volume.read does): that spares a fresh
 * array, whose page faults cost more than the decoding. WebAssembly decodes; the JS loops below name
 * the fault in a corrupt chunk, and decode where WebAssembly is missing.
 */
export function decodeCompressedSegmentation(
  bytes: Uint8Array,
  shape: Vec3,
  channels: number,
  blockSize: Vec3,
  dtype: 'uint32' | 'uint64',
  transient = false,
): Uint32Array | BigUint64Array {
  const w = dtype === 'uint64' ? 2 : 1;
  if (bytes.byteLength % 4 !== 0) throw new CorruptData(`compressed_segmentation chunk has ${bytes.byteLength} bytes, not a whole number of 32-bit words`);
  // Read in place when the bytes are aligned (they almost always are).
  const src = bytes.byteOffset % 4 === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) : new Uint32Array(bytes.slice().buffer);
  const voxels = shape[0] * shape[1] * shape[2];
  if (src.length < channels) throw new CorruptData(`compressed_segmentation chunk is too short for ${channels} channel offsets`);
  const kernels = wasmKernels();
  let outWords = kernels && decodeCompressedSegmentationInMemory(kernels, src, shape, channels, blockSize, w);
  if (outWords && !transient) outWords = outWords.slice();
  if (!outWords) {
    outWords = new Uint32Array(voxels * channels * w);
    for (let c = 0; c < channels; c++) decodeChannel(src, src[c], w, shape, blockSize, outWords, c * voxels * w);
  }
  return w === 2 ? new BigUint64Array(outWords.buffer, outWords.byteOffset, outWords.length / 2) : outWords;
}

/** The JS decoder (see above); also the one that tests hold the WebAssembly one to. */
export function decodeCompressedSegmentationJs(
  bytes: Uint8Array,
  shape: Vec3,
  channels: number,
  blockSize: Vec3,
  dtype: 'uint32' | 'uint64',
): Uint32Array | BigUint64Array {
  const w = dtype === 'uint64' ? 2 : 1;
  const src = new Uint32Array(bytes.slice().buffer);
  const voxels = shape[0] * shape[1] * shape[2];
  const outWords = new Uint32Array(voxels * channels * w);
  for (let c = 0; c < channels; c++) decodeChannel(src, src[c], w, shape, blockSize, outWords, c * voxels * w);
  return w === 2 ? new BigUint64Array(outWords.buffer) : outWords;
}

function decodeChannel(src: Uint32Array, start: number, w: 1 | 2, shape: Vec3, bs: Vec3, out: Uint32Array, outBase: number): void {
  const [sx, sy, sz] = shape;
  const [bx, by, bz] = bs;
  const gx = Math.ceil(sx / bx),
    gy = Math.ceil(sy / by),
    gz = Math.ceil(sz / bz);
  const corrupt = (why: string) => new CorruptData(`compressed_segmentation chunk is corrupt: ${why}`);
  if (start + 2 * gx * gy * gz > src.length) throw corrupt(`block headers at word ${start} run past the end (${src.length} words)`);
  const n = src.length;
  for (let z = 0; z < gz; z++)
    for (let y = 0; y < gy; y++)
      for (let x = 0; x < gx; x++) {
        const h = start + 2 * (x + gx * (y + gy * z));
        const tableAt = start + (src[h] & 0xffffff);
        const bits = src[h] >>> 24;
        const valuesAt = start + src[h + 1];
        if (bits > 32 || (bits & (bits - 1)) !== 0) throw corrupt(`block (${x},${y},${z}) has ${bits} encoded bits`);
        if (valuesAt + ((bits * bx * by * bz + 31) >>> 5) > n) throw corrupt(`block (${x},${y},${z}) values run past the end`);
        const x0 = x * bx,
          y0 = y * by,
          z0 = z * bz;
        const ex = Math.min(bx, sx - x0),
          ey = Math.min(by, sy - y0),
          ez = Math.min(bz, sz - z0);
        if (bits === 0) {
          if (tableAt + w > n) throw corrupt(`block (${x},${y},${z}) lookup index 0 runs past the end`);
          const lo = src[tableAt],
            hi = w === 2 ? src[tableAt + 1] : 0;
          for (let vz = 0; vz < ez; vz++)
            for (let vy = 0; vy < ey; vy++) {
              const o = outBase + w * (x0 + sx * (y0 + vy + sy * (z0 + vz)));
              if (w === 1) out.fill(lo, o, o + ex);
              else
                for (let k = o; k < o + 2 * ex; k += 2) {
                  out[k] = lo;
                  out[k + 1] = hi;
                }
            }
          continue;
        }
        // Int32 arithmetic throughout (a uint32 above 2^31 would make the JIT use doubles).
        const mask = bits === 32 ? -1 : (1 << bits) - 1;
        const lastIndex = Math.floor((n - tableAt) / w) - 1; // a lookup past it runs off the end
        // Indices are packed low bits first and never straddle a word: read each word once and shift.
        for (let vz = 0; vz < ez; vz++)
          for (let vy = 0; vy < ey; vy++) {
            const bit = bits * bx * (vy + by * vz);
            let at = valuesAt + (bit >>> 5),
              shift = bit & 31,
              word = src[at] >> shift;
            let o = outBase + w * (x0 + sx * (y0 + vy + sy * (z0 + vz)));
            const end = o + w * ex;
            for (;;) {
              const idx = word & mask; // negative only for 32-bit indices of 2^31 and above: past any table
              if (idx < 0 || idx > lastIndex) throw corrupt(`block (${x},${y},${z}) lookup index ${idx >>> 0} runs past the end`);
              const t = tableAt + idx * w;
              out[o] = src[t];
              if (w === 2) out[o + 1] = src[t + 1];
              o += w;
              if (o === end) break;
              shift += bits;
              if (shift === 32) {
                word = src[++at] | 0;
                shift = 0;
              } else word >>= bits;
            }
          }
      }
}

/**
 * At worst, per channel, a 32-bit index and a table entry for every voxel of the chunk's blocks (an
 * edge chunk's blocks are whole: padded past its voxels) and each block's header; labels gzip well
 * at level 4.
 */
export const compressedSegmentationCodec: ChunkCodec = {
  refuses: (dataType) => (dataType !== 'uint32' && dataType !== 'uint64' ? `needs data_type uint32 or uint64, not ${dataType}` : undefined),
  blockSize: true,
  encode: (array, shape, f) => encodeCompressedSegmentation(array as Uint32Array | BigUint64Array, shape, f.channels, f.blockSize!),
  decode: (bytes, shape, f, transient) => decodeCompressedSegmentation(bytes, shape, f.channels, f.blockSize!, f.dataType as 'uint32' | 'uint64', transient),
  maxBytes: (_raw, shape, f) => {
    const blocks = shape.map((n, d) => Math.ceil(n / f.blockSize![d]));
    const padded = blocks.reduce((a, b, d) => a * b * f.blockSize![d], 1);
    return 4 * f.channels * (1 + 2 * (blocks[0] * blocks[1] * blocks[2]) + 4 * padded) + 64;
  },
  gzip: () => ({ level: 4, strategy: 'default' }),
  contentType: 'application/octet-stream',
  lossy: false,
  compressed: false,
  compression: 0.05,
};
