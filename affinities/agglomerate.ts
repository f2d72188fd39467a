// Mean-affinity agglomeration of a region graph (the MeanGraph reducer's graph of watershed labels),
// as waterz does with its default scoring function OneMinus<MeanAffinity>: regions merge
// hierarchically, the pair with the highest mean affinity first; when two regions merge, their edges
// to a common neighbour combine by adding sums and counts (so a mean is always over every voxel edge
// between the two regions). A threshold t (the seed's "segmentation_0.2") merges while
// 1 - mean < t, that is while mean > 1 - t, with 1 - t computed once in float64: an edge whose mean
// equals 1 - t exactly does not merge (waterz stops at score >= threshold).
// Deterministic: ties go to the pair with the smaller labels; a region is named by its smallest label.
import { CorruptData, InvalidInput } from '../common/errors.js';
import { GraphEdge } from './mean-graph.js';

interface Edge {
  sum: number;
  count: number;
}
/**
 * A candidate merge: regions held at union-find roots ra, rb, named a < b by their smallest ids
 * (ids are indices into the sorted labels, so id order is label order).
 */
interface Entry {
  mean: number;
  a: number;
  b: number;
  ra: number;
  rb: number;
}

/** Heap order: higher mean first, then smaller a, then smaller b. */
function before(x: Entry, y: Entry): boolean {
  if (x.mean !== y.mean) return x.mean > y.mean;
  if (x.a !== y.a) return x.a < y.a;
  return x.b < y.b;
}

class Heap {
  private items: Entry[] = [];
  get size(): number {
    return this.items.length;
  }
  push(e: Entry): void {
    const h = this.items;
    h.push(e);
    for (let i = h.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }
  peek(): Entry | undefined {
    return this.items[0];
  }
  pop(): Entry | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1,
          r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

export interface Agglomeration {
  /** label -> region id (its smallest label), for every label whose region id differs from it. */
  mapping: Map<bigint, bigint>;
  merges: number;
  /** The means at which merges happened, in order (non-increasing). */
  mergeMeans: number[];
}

/** Agglomerates `edges` (pairs of distinct non-zero labels; a pair at most once) at threshold `t`. */
export function agglomerate(edges: GraphEdge[], threshold: number): Agglomeration {
  if (!(threshold >= 0 && threshold <= 1)) throw new InvalidInput(`agglomeration threshold ${threshold} is not in [0, 1]`);
  const floor = 1 - threshold;
  // Labels renumbered to dense ids in label order (numbers are far cheaper keys than bigints).
  const labels = [...new Set(edges.flatMap((e) => [e.a, e.b]))].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  const idOf = new Map<bigint, number>(labels.map((l, i) => [l, i]));
  const adjacency: Map<number, Edge>[] = labels.map(() => new Map());
  const heap = new Heap();
  for (const e of edges) {
    if (e.a === e.b || e.a === 0n || e.b === 0n) throw new CorruptData(`region graph edge ${e.a}-${e.b}: an edge joins two different non-zero labels`);
    const [a, b] = [idOf.get(e.a)!, idOf.get(e.b)!].sort((x, y) => x - y);
    if (adjacency[a].has(b)) throw new CorruptData(`region graph edge ${labels[a]}-${labels[b]} appears twice`);
    const edge = { sum: e.sum, count: e.count };
    adjacency[a].set(b, edge);
    adjacency[b].set(a, edge);
    heap.push({ mean: e.sum / e.count, a, b, ra: a, rb: b });
  }
  // Union-find over ids. A region's data (its edges) live at its root, which is the member whose
  // adjacency was larger at each merge (merging costs the smaller side); its name is its smallest id.
  const parent = Int32Array.from(labels, (_, i) => i);
  const name = Int32Array.from(labels, (_, i) => i);
  const find = (x: number): number => {
    let r = x;
    while (parent[r] !== r) r = parent[r];
    while (parent[x] !== r) {
      const next = parent[x];
      parent[x] = r;
      x = next;
    }
    return r;
  };
  const entry = (mean: number, r1: number, r2: number): Entry =>
    name[r1] < name[r2] ? { mean, a: name[r1], b: name[r2], ra: r1, rb: r2 } : { mean, a: name[r2], b: name[r1], ra: r2, rb: r1 };
  const mergeMeans: number[] = [];
  // An entry is dead when a region merged since (not a root) or the edge combined since (another
  // mean); it is misnamed when a region took a smaller name since: its place among equal means may
  // then be too late, so every entry of the best mean is gathered and renamed before choosing.
  const live = (x: Entry) => {
    const edge = parent[x.ra] === x.ra && parent[x.rb] === x.rb ? adjacency[x.ra].get(x.rb) : undefined;
    return edge !== undefined && edge.sum / edge.count === x.mean;
  };
  while (heap.size > 0) {
    let top = heap.pop()!;
    if (!live(top)) continue;
    if (!(top.mean > floor)) break;
    const ties: Entry[] = [];
    while (heap.size > 0 && heap.peek()!.mean === top.mean) {
      const x = heap.pop()!;
      if (live(x)) ties.push(x);
    }
    if (ties.length > 0 || name[top.ra] !== top.a || name[top.rb] !== top.b) {
      const all = [top, ...ties].map((x) => entry(x.mean, x.ra, x.rb));
      all.sort((x, y) => (before(x, y) ? -1 : before(y, x) ? 1 : 0));
      top = all[0];
      for (const x of all.slice(1)) heap.push(x);
    }
    const { ra, rb } = top;
    const [big, small] = adjacency[ra].size >= adjacency[rb].size ? [ra, rb] : [rb, ra];
    parent[small] = big;
    if (name[small] < name[big]) name[big] = name[small];
    mergeMeans.push(top.mean);
    const bigAdj = adjacency[big],
      smallAdj = adjacency[small];
    bigAdj.delete(small);
    smallAdj.delete(big);
    for (const [n, e] of smallAdj) {
      const nAdj = adjacency[n];
      nAdj.delete(small);
      const existing = bigAdj.get(n);
      const combined = existing ? { sum: existing.sum + e.sum, count: existing.count + e.count } : e;
      bigAdj.set(n, combined);
      nAdj.set(big, combined);
      // A new entry for each edge from the smaller side (its root or mean changed); the region's
      // other edges keep theirs, renamed when they reach the top.
      heap.push(entry(combined.sum / combined.count, big, n));
    }
    adjacency[small] = new Map();
  }
  const mapping = new Map<bigint, bigint>();
  for (let i = 0; i < labels.length; i++) {
    const r = name[find(i)];
    if (r !== i) mapping.set(labels[i], labels[r]);
  }
  return { mapping, merges: mergeMeans.length, mergeMeans };
}

/**
 * The mapping file: little-endian uint64 pairs (label, region id), sorted by label, for the labels
 * whose region id differs from the label (every other label maps to itself).
 */
export function encodeMapping(mapping: Map<bigint, bigint>): Uint8Array {
  const labels = [...mapping.keys()].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  const out = new BigUint64Array(2 * labels.length);
  labels.forEach((l, i) => {
    out[2 * i] = l;
    out[2 * i + 1] = mapping.get(l)!;
  });
  return new Uint8Array(out.buffer);
}

/** The largest mapping file: a JS Map holds at most 2^24 entries, 16 bytes each here. */
export const MAX_MAPPING_BYTES = 16 << 24;

/**
 * The mapping file's pairs, checked as the writer writes them: labels increasing, every label and
 * region id non-zero (background stays background), a region id never above its label.
 */
export function decodeMapping(bytes: Uint8Array, where: string): Map<bigint, bigint> {
  if (bytes.length % 16 !== 0) throw new CorruptData(`${where}: ${bytes.length} bytes is not a whole number of (label, id) uint64 pairs`);
  if (bytes.length > MAX_MAPPING_BYTES)
    throw new CorruptData(`${where}: ${bytes.length / 16} pairs, more than the ${MAX_MAPPING_BYTES / 16} a mapping may hold`);
  const words = new BigUint64Array(bytes.slice().buffer);
  const mapping = new Map<bigint, bigint>();
  for (let i = 0; i < words.length; i += 2) {
    if (i > 0 && words[i] <= words[i - 2]) throw new CorruptData(`${where}: labels are not in increasing order at pair ${i / 2}`);
    if (words[i + 1] === 0n || words[i + 1] >= words[i])
      throw new CorruptData(`${where}: pair ${i / 2} maps label ${words[i]} to ${words[i + 1]}; a region id is a smaller non-zero label`);
    mapping.set(words[i], words[i + 1]);
  }
  return mapping;
}
