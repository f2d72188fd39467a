// Chunk-local label ids: float textures hold integers exactly only below 2^24, so GPU kernels work on
// small ids instead of uint32/uint64 labels. Ids keep the label order (label 0 -> id 0, the other
// labels -> 1, 2, ... in increasing order), so "smallest label" tie-breaks give the same answer on ids.
import { labelWords } from '../common/dtype.js';

export interface Renumbered {
  /** Per voxel, the id of its label. */
  ids: Uint32Array;
  /** Label words of each id (wordsPerLabel per id; id 0 is label 0). */
  labels: Uint32Array;
  wordsPerLabel: 1 | 2;
  /** Unordered ids (first seen): each id's place in label order (id 0: 0). */
  rank?: Uint32Array;
}

/** Open-addressing hash of (lo, hi) label words -> first-seen index. */
class LabelTable {
  lo = new Uint32Array(1024);
  hi = new Uint32Array(1024);
  slot = new Int32Array(1024).fill(-1);
  count = 0;

  private static hash(lo: number, hi: number): number {
    return (Math.imul(lo, 0x9e3779b1) ^ Math.imul(hi ^ (lo >>> 16), 0x85ebca77)) >>> 0;
  }

  /** Index of (lo, hi), added if new; `keysLo/keysHi` receive new labels in first-seen order. */
  find(lo: number, hi: number, keysLo: number[], keysHi: number[]): number {
    if (2 * (this.count + 1) > this.slot.length) this.grow(keysLo, keysHi);
    const mask = this.slot.length - 1;
    for (let h = LabelTable.hash(lo, hi) & mask; ; h = (h + 1) & mask) {
      const s = this.slot[h];
      if (s < 0) {
        this.slot[h] = this.count;
        this.lo[h] = lo;
        this.hi[h] = hi;
        keysLo.push(lo);
        keysHi.push(hi);
        return this.count++;
      }
      if (this.lo[h] === lo && this.hi[h] === hi) return s;
    }
  }

  private grow(keysLo: number[], keysHi: number[]): void {
    const size = this.slot.length * 2;
    this.lo = new Uint32Array(size);
    this.hi = new Uint32Array(size);
    this.slot = new Int32Array(size).fill(-1);
    const mask = size - 1;
    for (let s = 0; s < this.count; s++) {
      let h = LabelTable.hash(keysLo[s], keysHi[s]) & mask;
      while (this.slot[h] >= 0) h = (h + 1) & mask;
      this.slot[h] = s;
      this.lo[h] = keysLo[s];
      this.hi[h] = keysHi[s];
    }
  }
}

/** `ordered` false: ids in first-seen order (one pass less), with their label order in `rank`. */
export function renumberLabels(data: Uint32Array | BigUint64Array, ordered = true): Renumbered {
  const { words, wordsPerLabel: w } = labelWords(data);
  const n = data.length;
  const table = new LabelTable();
  const keysLo: number[] = [],
    keysHi: number[] = [];
  const firstSeen = new Uint32Array(n); // first-seen index + 1, 0 for label 0
  markFirstSeen(words, w, table, keysLo, keysHi, firstSeen);
  const order = Array.from({ length: table.count }, (_, i) => i);
  order.sort((a, b) => keysHi[a] - keysHi[b] || keysLo[a] - keysLo[b]);
  const rank = new Uint32Array(table.count + 1);
  const labels = new Uint32Array(w * (table.count + 1));
  order.forEach((seen, r) => {
    rank[seen + 1] = r + 1;
    const at = ordered ? r + 1 : seen + 1;
    labels[w * at] = keysLo[seen];
    if (w === 2) labels[w * at + 1] = keysHi[seen];
  });
  if (!ordered) return { ids: firstSeen, labels, wordsPerLabel: w, rank };
  applyRank(firstSeen, rank);
  return { ids: firstSeen, labels, wordsPerLabel: w };
}

/** Each voxel's label as its first-seen index + 1 (0 for label 0). Its own function: a tight loop. */
function markFirstSeen(words: Uint32Array, w: 1 | 2, table: LabelTable, keysLo: number[], keysHi: number[], out: Uint32Array): void {
  let lastLo = 0,
    lastHi = 0,
    last = 0; // runs of one label are common: skip the hash for them
  for (let i = 0; i < out.length; i++) {
    const lo = words[w * i],
      hi = w === 2 ? words[w * i + 1] : 0;
    if (lo === lastLo && hi === lastHi) {
      out[i] = last;
      continue;
    }
    lastLo = lo;
    lastHi = hi;
    last = lo === 0 && hi === 0 ? 0 : table.find(lo, hi, keysLo, keysHi) + 1;
    out[i] = last;
  }
}

function applyRank(ids: Uint32Array, rank: Uint32Array): void {
  for (let i = 0; i < ids.length; i++) ids[i] = rank[ids[i]];
}

/** The label of one id. */
export function labelOfId(table: Renumbered, id: number): bigint {
  const { labels, wordsPerLabel: w } = table;
  return w === 2 ? (BigInt(labels[2 * id + 1]) << 32n) | BigInt(labels[2 * id]) : BigInt(labels[id]);
}

/** Labels of `ids` as a typed array of the original label type. */
export function labelsOfIds(ids: ArrayLike<number>, table: Renumbered): Uint32Array | BigUint64Array {
  const w = table.wordsPerLabel;
  const out = w === 2 ? new BigUint64Array(ids.length) : new Uint32Array(ids.length);
  const dst = labelWords(out).words;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    dst[w * i] = table.labels[w * id];
    if (w === 2) dst[w * i + 1] = table.labels[w * id + 1];
  }
  return out;
}
