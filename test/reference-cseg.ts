// The readable reference implementation of Neuroglancer's compressed_segmentation encoding (the one
// digest shipped before its encoder and decoder were made fast): tests hold codecs/ to it, byte for
// byte. As specified in neuroglancer src/sliceview/compressed_segmentation/README.md; labels are
// handled as 32-bit words (1 per uint32 label, low+high per uint64).
import { CorruptData } from '../common/errors.js';
import { Vec3 } from '../common/box.js';
import { labelWords } from '../common/dtype.js';

const ALLOWED_BITS = [0, 1, 2, 4, 8, 16, 32];

function bitsFor(distinct: number): number {
  for (const b of ALLOWED_BITS) if (2 ** b >= distinct) return b;
  throw new Error(`${distinct} distinct values cannot be encoded`);
}

/** Growable uint32 output buffer. */
class WordWriter {
  words = new Uint32Array(1024);
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

export function referenceEncodeCompressedSegmentation(labels: Uint32Array | BigUint64Array, shape: Vec3, channels: number, blockSize: Vec3): Uint8Array {
  const { words, wordsPerLabel } = labelWords(labels);
  const voxels = shape[0] * shape[1] * shape[2];
  if (labels.length !== voxels * channels) throw new Error(`compressed_segmentation: ${labels.length} labels do not fill shape [${shape}] x ${channels}`);
  const out = new WordWriter();
  out.reserve(channels);
  for (let c = 0; c < channels; c++) {
    out.words[c] = out.length;
    encodeChannel(words, c * voxels * wordsPerLabel, wordsPerLabel, shape, blockSize, out);
  }
  return new Uint8Array(out.words.buffer, 0, out.length * 4).slice();
}

function encodeChannel(src: Uint32Array, base: number, w: 1 | 2, shape: Vec3, bs: Vec3, out: WordWriter): void {
  const [sx, sy, sz] = shape;
  const [bx, by, bz] = bs;
  const gx = Math.ceil(sx / bx),
    gy = Math.ceil(sy / by),
    gz = Math.ceil(sz / bz);
  const channelStart = out.length;
  const headerAt = out.reserve(2 * gx * gy * gz);
  const blockVoxels = bx * by * bz;
  const index = new Uint32Array(blockVoxels); // per-voxel index into the block's distinct values
  const uniqLo = new Uint32Array(blockVoxels);
  const uniqHi = new Uint32Array(blockVoxels);
  const order = new Uint32Array(blockVoxels);
  const rank = new Uint32Array(blockVoxels);
  const tableCache = new Map<string, number>();
  for (let z = 0; z < gz; z++)
    for (let y = 0; y < gy; y++)
      for (let x = 0; x < gx; x++) {
        // 1. Distinct values in first-seen order; padding voxels repeat the nearest voxel inside the chunk.
        let distinct = 0;
        let last = -1;
        let i = 0;
        for (let vz = 0; vz < bz; vz++) {
          const zz = Math.min(z * bz + vz, sz - 1);
          for (let vy = 0; vy < by; vy++) {
            const yy = Math.min(y * by + vy, sy - 1);
            for (let vx = 0; vx < bx; vx++, i++) {
              const xx = Math.min(x * bx + vx, sx - 1);
              const at = base + w * (xx + sx * (yy + sy * zz));
              const lo = src[at],
                hi = w === 2 ? src[at + 1] : 0;
              if (last >= 0 && uniqLo[last] === lo && uniqHi[last] === hi) {
                index[i] = last;
                continue;
              }
              let k = 0;
              while (k < distinct && (uniqLo[k] !== lo || uniqHi[k] !== hi)) k++;
              if (k === distinct) {
                uniqLo[k] = lo;
                uniqHi[k] = hi;
                distinct++;
              }
              index[i] = last = k;
            }
          }
        }
        // 2. Sort the table ascending (as Neuroglancer's encoder does) and renumber the indices.
        for (let k = 0; k < distinct; k++) order[k] = k;
        const sorted = Array.from(order.subarray(0, distinct)).sort((a, b) => uniqHi[a] - uniqHi[b] || uniqLo[a] - uniqLo[b]);
        for (let k = 0; k < distinct; k++) rank[sorted[k]] = k;
        const bits = bitsFor(distinct);
        // 3. Packed values, then the lookup table (shared with an earlier block when identical).
        const valuesAt = out.reserve((bits * blockVoxels + 31) >>> 5);
        if (bits > 0) {
          const o = out.words;
          for (let v = 0; v < blockVoxels; v++) {
            const bit = v * bits;
            o[valuesAt + (bit >>> 5)] |= rank[index[v]] << (bit & 31);
          }
        }
        let tableKey = '';
        for (const k of sorted) tableKey += w === 2 ? `${uniqLo[k]},${uniqHi[k]};` : `${uniqLo[k]};`;
        let tableAt = tableCache.get(tableKey);
        if (tableAt === undefined) {
          tableAt = out.reserve(distinct * w);
          for (let k = 0; k < distinct; k++) {
            out.words[tableAt + k * w] = uniqLo[sorted[k]];
            if (w === 2) out.words[tableAt + k * w + 1] = uniqHi[sorted[k]];
          }
          tableAt -= channelStart;
          tableCache.set(tableKey, tableAt);
        }
        const h = headerAt + 2 * (x + gx * (y + gy * z));
        out.words[h] = (tableAt | (bits << 24)) >>> 0;
        out.words[h + 1] = valuesAt - channelStart;
      }
}

export function referenceDecodeCompressedSegmentation(
  bytes: Uint8Array,
  shape: Vec3,
  channels: number,
  blockSize: Vec3,
  dtype: 'uint32' | 'uint64',
): Uint32Array | BigUint64Array {
  const w = dtype === 'uint64' ? 2 : 1;
  if (bytes.byteLength % 4 !== 0) throw new CorruptData(`compressed_segmentation chunk has ${bytes.byteLength} bytes, not a whole number of 32-bit words`);
  const src = new Uint32Array(bytes.slice().buffer);
  const voxels = shape[0] * shape[1] * shape[2];
  const outWords = new Uint32Array(voxels * channels * w);
  if (src.length < channels) throw new CorruptData(`compressed_segmentation chunk is too short for ${channels} channel offsets`);
  for (let c = 0; c < channels; c++) {
    decodeChannel(src, src[c], w, shape, blockSize, outWords, c * voxels * w);
  }
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
  for (let z = 0; z < gz; z++)
    for (let y = 0; y < gy; y++)
      for (let x = 0; x < gx; x++) {
        const h = start + 2 * (x + gx * (y + gy * z));
        const tableAt = start + (src[h] & 0xffffff);
        const bits = src[h] >>> 24;
        const valuesAt = start + src[h + 1];
        if (!ALLOWED_BITS.includes(bits)) throw corrupt(`block (${x},${y},${z}) has ${bits} encoded bits`);
        if (valuesAt + ((bits * bx * by * bz + 31) >>> 5) > src.length) throw corrupt(`block (${x},${y},${z}) values run past the end`);
        const mask = bits === 32 ? 0xffffffff : (1 << bits) - 1;
        const x0 = x * bx,
          y0 = y * by,
          z0 = z * bz;
        const ex = Math.min(bx, sx - x0),
          ey = Math.min(by, sy - y0),
          ez = Math.min(bz, sz - z0);
        for (let vz = 0; vz < ez; vz++)
          for (let vy = 0; vy < ey; vy++)
            for (let vx = 0; vx < ex; vx++) {
              const bit = bits * (vx + bx * (vy + by * vz));
              const idx = bits === 0 ? 0 : (src[valuesAt + (bit >>> 5)] >>> (bit & 31)) & mask;
              const t = tableAt + idx * w;
              if (t + w > src.length) throw corrupt(`block (${x},${y},${z}) lookup index ${idx} runs past the end`);
              const o = outBase + w * (x0 + vx + sx * (y0 + vy + sy * (z0 + vz)));
              out[o] = src[t];
              if (w === 2) out[o + 1] = src[t + 1];
            }
      }
}
