// Mean-affinity agglomeration of a region graph, as waterz does with OneMinus<MeanAffinity>: the
// pair of regions with the highest mean affinity merges first; when two regions merge, their edges
// to a common neighbour combine (sums and counts add, so a mean is always over every voxel edge
// between the two regions). Threshold t merges while the mean is above 1 - t (1 - t computed once in
// float64); a mean equal to it does not merge.
//
// The order of edges is a total order that merges preserve, so that agglomerating block by block
// (abiss's method; Lu, Zlateski and Seung 2017) gives exactly the single-task result:
// - higher exact mean first: sums are exact (region-graph.ts), means compared as exact rationals;
// - then the smaller tie key, compared as (a, b): an original edge's tie key is its label pair, a
//   combined edge's the smaller of its parts' keys.
// A merge never makes an edge better than the better of its parts (a combined mean lies between its
// parts' means; when equal, it takes the better key), so the order is reducible: the same merges
// happen whatever order mutual-best pairs are taken in, which is all that a block can see.
//
// agglomerateBlock runs one block. Regions that touch the block's faces (faces bits) may have edges
// the block cannot see: they never merge here ("frozen"). A region whose best edge goes to a frozen
// or stuck region cannot merge here either ("stuck": its best edge stays best, as no merge makes an
// edge better). The block passes up its frozen and stuck regions and the edges between them; the
// others are final (every edge at or below 1 - t; no merge can raise one) and are dropped.
import { CorruptData, InvalidInput } from '../common/errors.js';
import { BUCKET_BITS, EdgeQueue, meanBucket } from './edge-queue.js';
import { emptyEdges, emptyRegions, EdgeList, NameSection, RegionGraph, UNITS_PER_AFFINITY } from './region-graph.js';
import { grown } from '../common/grown.js';

export interface BlockChild {
  graph: RegionGraph;
  /** The child's faces that lie on the block's faces (FACE_BITS); its other faces are inside the block. */
  outer: number;
  /** Names the child's section in the block's name table. */
  key: bigint;
}

export interface BlockResult {
  /** What the parent needs: frozen and stuck regions and the edges between them. */
  graph: RegionGraph;
  /** Per child, each of its regions (chunk graphs: those inside the chunk) and the region it is in now. */
  names: NameSection[];
  merges: number;
}

const FROZEN = 1,
  STUCK = 2;

/**
 * Agglomerates one block of children (chunk graphs, or the block graphs of the level below) at
 * `threshold`. With `release`, each child's edge list is emptied once loaded (a task's memory then
 * holds its edges once, not twice).
 */
export function agglomerateBlock(children: BlockChild[], threshold: number, release = false): BlockResult {
  if (!(threshold >= 0 && threshold <= 1)) throw new InvalidInput(`agglomeration threshold ${threshold} is not in [0, 1]`);
  const labels = regionLabels(children);
  const n = labels.length;
  if (n > 94_000_000) throw new InvalidInput(`agglomeration block: ${n} regions are too many for one block; use smaller blocks`);
  const finder = labelFinder(labels);
  const state = new Uint8Array(n);
  const faces = new Uint8Array(n);
  for (const child of children) {
    const r = child.graph.regions;
    const w = wordsOf(r.label);
    for (let i = 0; i < r.length; i++) faces[finder(w[2 * i], w[2 * i + 1], 'region')] |= r.faces[i] & child.outer;
  }
  for (let i = 0; i < n; i++) if (faces[i]) state[i] = FROZEN;
  const g = new Graph(
    n,
    1 - threshold,
    children.reduce((k, c) => k + c.graph.edges.length, 0),
  );
  g.load(children, finder, release);
  const merges = g.run(state);
  return { graph: g.remaining(labels, state, faces), names: nameSections(children, labels, g), merges };
}

/** Every region label of the children, ascending, once. */
function regionLabels(children: BlockChild[]): BigUint64Array {
  const all = new BigUint64Array(children.reduce((s, c) => s + c.graph.regions.length, 0));
  let k = 0;
  for (const c of children) {
    all.set(c.graph.regions.label, k);
    k += c.graph.regions.length;
  }
  all.sort();
  let m = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[m - 1]) all[m++] = all[i];
  return all.slice(0, m);
}

/** A uint64 array's little-endian 32-bit words (lo, hi per element): labels read without a bigint each. */
function wordsOf(x: BigUint64Array): Uint32Array {
  return new Uint32Array(x.buffer, x.byteOffset, 2 * x.length);
}

type LabelFinder = (lo: number, hi: number, what: string) => number;

/** Index of a label, given as its 32-bit words, in the ascending `labels` (binary search on the words). */
function labelFinder(labels: BigUint64Array): LabelFinder {
  const words = wordsOf(labels);
  return (lo, hi, what) => {
    let l = 0,
      r = labels.length - 1;
    while (l <= r) {
      const m = (l + r) >> 1;
      const mh = words[2 * m + 1],
        ml = words[2 * m];
      if (mh === hi && ml === lo) return m;
      if (mh < hi || (mh === hi && ml < lo)) l = m + 1;
      else r = m - 1;
    }
    const label = (BigInt(hi) << 32n) | BigInt(lo);
    throw new CorruptData(`agglomeration block: ${what} label ${label} is in an edge but in no region list of the block's inputs`);
  };
}

/** Growable typed arrays of edges between region indices, their exact sums and tie keys, and the queue of them. */
class Graph {
  size = 0;
  u: Int32Array;
  v: Int32Array;
  whole: Float64Array;
  fraction: Float64Array;
  count: Float64Array;
  tie: Uint32Array; // a hi, a lo, b hi, b lo
  alive: Uint8Array;
  /**
   * Each region's edges as a linked list of nodes, node 2e + 0 for edge e at its u end, 2e + 1 at
   * its v end (dead and moved edges stay listed and are skipped); `degree` counts what was linked.
   */
  next: Int32Array;
  head: Int32Array;
  tail: Int32Array;
  degree: Float64Array;
  /** The live edge of each pair of regions. */
  pairs: PairTable;
  parent: Int32Array;
  /** A root's name: the smallest region index in it (indices follow label order). */
  name: Int32Array;
  /** The edges above the floor (no other edge can merge), best first. */
  queue: EdgeQueue;
  private readonly floorExact: { mantissa: bigint; exponent: number };

  /** `edges`: the input's edge count; merges add a combined edge for every pair of edges they join (room for a quarter more is made at once). */
  constructor(
    readonly n: number,
    readonly floor: number,
    edges: number,
  ) {
    const cap = Math.max(16, Math.ceil(edges * 1.25));
    this.u = new Int32Array(cap);
    this.v = new Int32Array(cap);
    this.whole = new Float64Array(cap);
    this.fraction = new Float64Array(cap);
    this.count = new Float64Array(cap);
    this.tie = new Uint32Array(4 * cap);
    this.alive = new Uint8Array(cap);
    this.queue = new EdgeQueue(this, cap, Math.floor(floor * 2 ** BUCKET_BITS));
    this.next = new Int32Array(2 * cap);
    this.head = new Int32Array(n).fill(-1);
    this.tail = new Int32Array(n).fill(-1);
    this.degree = new Float64Array(n);
    this.pairs = new PairTable(cap, this);
    this.parent = Int32Array.from({ length: n }, (_, i) => i);
    this.name = Int32Array.from({ length: n }, (_, i) => i);
    this.floorExact = exactDouble(floor);
  }

  private grow(): void {
    const cap = Math.ceil(this.u.length * 1.5);
    const more = <T extends Int32Array | Float64Array | Uint8Array | Uint32Array>(a: T, k = 1): T => grown(a, cap * k);
    this.u = more(this.u);
    this.v = more(this.v);
    this.whole = more(this.whole);
    this.fraction = more(this.fraction);
    this.count = more(this.count);
    this.tie = more(this.tie, 4);
    this.alive = more(this.alive);
    this.next = more(this.next, 2);
    this.queue.reserve(cap);
  }

  private link(region: number, node: number): void {
    this.next[node] = -1;
    if (this.tail[region] < 0) this.head[region] = node;
    else this.next[this.tail[region]] = node;
    this.tail[region] = node;
    this.degree[region]++;
  }

  private add(u: number, v: number, whole: number, fraction: number, count: number, t0: number, t1: number, t2: number, t3: number): number {
    if (this.size === this.u.length) this.grow();
    const e = this.size++;
    this.u[e] = u;
    this.v[e] = v;
    this.whole[e] = whole;
    this.fraction[e] = fraction;
    this.count[e] = count;
    this.tie[4 * e] = t0;
    this.tie[4 * e + 1] = t1;
    this.tie[4 * e + 2] = t2;
    this.tie[4 * e + 3] = t3;
    this.alive[e] = 1;
    this.link(u, 2 * e);
    this.link(v, 2 * e + 1);
    this.pairs.set(u, v, e);
    return e;
  }

  mean(e: number): number {
    return (this.whole[e] + this.fraction[e] / UNITS_PER_AFFINITY) / this.count[e];
  }

  /** An edge from the sums of e and f, with the smaller of their tie keys. */
  private combine(u: number, v: number, e: number, f: number): number {
    let fraction = this.fraction[e] + this.fraction[f],
      whole = this.whole[e] + this.whole[f];
    if (fraction >= UNITS_PER_AFFINITY) {
      fraction -= UNITS_PER_AFFINITY;
      whole += 1;
    }
    const t = this.tie;
    const k = tieBefore(t, e, f) ? e : f;
    return this.add(u, v, whole, fraction, this.count[e] + this.count[f], t[4 * k], t[4 * k + 1], t[4 * k + 2], t[4 * k + 3]);
  }

  load(children: BlockChild[], find: LabelFinder, release: boolean): void {
    for (const child of children) {
      const e = child.graph.edges;
      const a = wordsOf(e.a),
        b = wordsOf(e.b),
        ta = wordsOf(e.tieA),
        tb = wordsOf(e.tieB);
      // Edges come sorted by a: its index is looked up once a run.
      let lastLo = -1,
        lastHi = -1,
        lastP = -1;
      for (let i = 0; i < e.length; i++) {
        if (a[2 * i] !== lastLo || a[2 * i + 1] !== lastHi) {
          lastLo = a[2 * i];
          lastHi = a[2 * i + 1];
          lastP = find(lastLo, lastHi, 'edge');
        }
        let p = lastP,
          q = find(b[2 * i], b[2 * i + 1], 'edge');
        if (p > q) [p, q] = [q, p];
        const have = this.pairs.get(p, q);
        const x = this.add(p, q, e.whole[i], e.fraction[i], e.count[i], ta[2 * i + 1], ta[2 * i], tb[2 * i + 1], tb[2 * i]);
        if (have >= 0) {
          // The same pair from two children: partial sums of one edge (voxel edges owned by each).
          this.combine(p, q, have, x);
          this.alive[have] = this.alive[x] = 0;
        }
      }
      if (release) child.graph.edges = emptyEdges(0);
    }
    for (let e = 0; e < this.size; e++) if (this.alive[e]) this.enqueue(e);
  }

  /** Whether edge e of mean x comes before edge f of mean y (exact mean, then tie key). */
  precedes(x: number, e: number, y: number, f: number): boolean {
    // The float64 means are within a few ulps of the exact ones: apart by more, their order is the exact order.
    const d = x - y;
    if (d > 1e-12 * x) return true;
    if (-d > 1e-12 * y) return false;
    const c = this.compareExact(e, f);
    if (c !== 0) return c > 0;
    return tieBefore(this.tie, e, f);
  }

  /** Sign of mean(e) - mean(f), exactly: sum_e * count_f against sum_f * count_e in integers. */
  private compareExact(e: number, f: number): number {
    const se = (BigInt(this.whole[e]) << 32n) + BigInt(this.fraction[e]),
      sf = (BigInt(this.whole[f]) << 32n) + BigInt(this.fraction[f]);
    const l = se * BigInt(this.count[f]),
      r = sf * BigInt(this.count[e]);
    return l > r ? 1 : l < r ? -1 : 0;
  }

  /** Whether edge e, of float64 mean m, has its exact mean above the floor. */
  private aboveFloor(e: number, m: number): boolean {
    if (Math.abs(m - this.floor) > 1e-12 * Math.max(m, this.floor)) return m > this.floor;
    // sum / 2^32 / count > mantissa * 2^exponent  <=>  sum * 2^-(32 + exponent) > count * mantissa
    const sum = (BigInt(this.whole[e]) << 32n) + BigInt(this.fraction[e]);
    const rhs = BigInt(this.count[e]) * this.floorExact.mantissa;
    const shift = -(32 + this.floorExact.exponent);
    return shift >= 0 ? sum << BigInt(shift) > rhs : sum > rhs << BigInt(-shift);
  }

  /** Queues edge e if it is above the floor. */
  private enqueue(e: number): void {
    if (this.aboveFloor(e, this.mean(e))) this.queue.add(e);
  }

  isAlive(e: number): boolean {
    return this.alive[e] === 1;
  }

  bucket(e: number): number {
    return meanBucket(this.whole[e], this.fraction[e], this.count[e]);
  }

  /** Best edge first (only edges above the floor are queued): merge where both regions are free; mark both stuck where either is not. */
  run(state: Uint8Array): number {
    let merges = 0;
    for (let e = this.queue.take(); e >= 0; e = this.queue.take()) {
      const p = this.u[e],
        q = this.v[e];
      if (state[p] || state[q]) {
        if (!state[p]) state[p] = STUCK;
        if (!state[q]) state[q] = STUCK;
        continue;
      }
      this.merge(e, p, q);
      merges++;
    }
    return merges;
  }

  private merge(e: number, p: number, q: number): void {
    const [big, small] = this.degree[p] >= this.degree[q] ? [p, q] : [q, p];
    this.parent[small] = big;
    if (this.name[small] < this.name[big]) this.name[big] = this.name[small];
    this.alive[e] = 0;
    for (let node = this.head[small]; node >= 0; node = this.next[node]) {
      const f = node >> 1;
      if (!this.alive[f]) continue;
      const side = node & 1;
      // Listed at small's end: its other end.
      const other = side === 0 ? this.v[f] : this.u[f];
      const g = this.pairs.get(big, other);
      if (g < 0) {
        // The edge moves to the merged region unchanged: its place in the queue stays right.
        if (side === 0) this.u[f] = big;
        else this.v[f] = big;
        this.pairs.set(big, other, f);
      } else {
        const h = this.combine(big, other, f, g);
        this.alive[f] = this.alive[g] = 0;
        this.enqueue(h);
      }
    }
    // Small's list (its moved edges among them) joins big's.
    if (this.head[small] >= 0) {
      if (this.tail[big] < 0) this.head[big] = this.head[small];
      else this.next[this.tail[big]] = this.head[small];
      this.tail[big] = this.tail[small];
    }
    this.degree[big] += this.degree[small];
    this.head[small] = this.tail[small] = -1;
  }

  /** Whether e is a live edge between regions p and q. */
  joins(e: number, p: number, q: number): boolean {
    return this.alive[e] === 1 && ((this.u[e] === p && this.v[e] === q) || (this.u[e] === q && this.v[e] === p));
  }

  find(x: number): number {
    let r = x;
    while (this.parent[r] !== r) r = this.parent[r];
    while (this.parent[x] !== r) {
      const next = this.parent[x];
      this.parent[x] = r;
      x = next;
    }
    return r;
  }

  /** The frozen and stuck regions (named), and the live edges between them, sorted. */
  remaining(labels: BigUint64Array, state: Uint8Array, faces: Uint8Array): RegionGraph {
    const kept: number[] = [];
    for (let i = 0; i < this.n; i++) if (this.parent[i] === i && state[i]) kept.push(i);
    kept.sort((x, y) => this.name[x] - this.name[y]);
    const regions = emptyRegions(kept.length);
    kept.forEach((r, i) => {
      regions.label[i] = labels[this.name[r]];
      regions.faces[i] = state[r] === FROZEN ? faces[r] : 0;
      regions.inside[i] = 1;
    });
    const list: number[] = [];
    for (let e = 0; e < this.size; e++) if (this.alive[e] && state[this.u[e]] && state[this.v[e]]) list.push(e);
    const ends = (e: number): [number, number] => {
      const x = this.name[this.u[e]],
        y = this.name[this.v[e]];
      return x < y ? [x, y] : [y, x];
    };
    list.sort((e, f) => {
      const [a, b] = ends(e),
        [c, d] = ends(f);
      return a - c || b - d;
    });
    const edges: EdgeList = emptyEdges(list.length);
    const t = this.tie;
    list.forEach((e, i) => {
      const [a, b] = ends(e);
      edges.a[i] = labels[a];
      edges.b[i] = labels[b];
      edges.whole[i] = this.whole[e];
      edges.fraction[i] = this.fraction[e];
      edges.count[i] = this.count[e];
      edges.tieA[i] = (BigInt(t[4 * e]) << 32n) | BigInt(t[4 * e + 1]);
      edges.tieB[i] = (BigInt(t[4 * e + 2]) << 32n) | BigInt(t[4 * e + 3]);
    });
    return { kind: 'block', edges, regions };
  }
}

/**
 * Open-addressing hash table from a pair of region indices to an edge index. Entries are never
 * removed: an entry whose edge no longer joins the pair (dead, or moved by a merge) reads as absent
 * and is dropped when the table grows.
 */
class PairTable {
  /** The pair's smaller index (-1: an empty slot) and larger index. */
  private low: Int32Array;
  private high: Int32Array;
  private values: Int32Array;
  private used = 0;
  /** The last pair looked up and its slot: a set that follows a get of its pair probes nothing. */
  private lastLow = -1;
  private lastHigh = -1;
  private lastSlot = -1;

  /** `graph`: whose edges the values are (to tell live entries from stale ones). */
  constructor(
    expected: number,
    private readonly graph: Graph,
  ) {
    const size = 2 ** Math.ceil(Math.log2(Math.max(16, 2 * expected)));
    this.low = new Int32Array(size).fill(-1);
    this.high = new Int32Array(size);
    this.values = new Int32Array(size);
  }

  /** The slot of pair p < q: its own, or the empty one where it would go. */
  private slot(p: number, q: number): number {
    const mask = this.low.length - 1;
    let h = Math.imul(p, 0x9e3779b1) ^ Math.imul(q, 0x85ebca6b);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 13;
    const low = this.low,
      high = this.high;
    let i = h & mask;
    while (low[i] !== -1 && (low[i] !== p || high[i] !== q)) i = (i + 1) & mask;
    this.lastLow = p;
    this.lastHigh = q;
    this.lastSlot = i;
    return i;
  }

  /** The live edge between p and q, or -1. */
  get(p: number, q: number): number {
    const i = p < q ? this.slot(p, q) : this.slot(q, p);
    if (this.low[i] === -1) return -1;
    const e = this.values[i];
    return this.graph.joins(e, p, q) ? e : -1;
  }

  set(p: number, q: number, e: number): void {
    if (p > q) [p, q] = [q, p];
    const i = p === this.lastLow && q === this.lastHigh ? this.lastSlot : this.slot(p, q);
    if (this.low[i] === -1) {
      this.low[i] = p;
      this.high[i] = q;
      this.used++;
    }
    this.values[i] = e;
    if (2 * this.used > this.low.length) this.rehash();
  }

  /** Room for four times the entries whose edge still joins their pair; only those are kept. */
  private rehash(): void {
    const g = this.graph;
    const low = this.low,
      high = this.high,
      values = this.values;
    const live = (i: number) => low[i] !== -1 && g.joins(values[i], low[i], high[i]);
    let count = 0;
    for (let i = 0; i < low.length; i++) if (live(i)) count++;
    const size = 2 ** Math.ceil(Math.log2(Math.max(16, 4 * count)));
    this.low = new Int32Array(size).fill(-1);
    this.high = new Int32Array(size);
    this.values = new Int32Array(size);
    this.used = 0;
    this.lastLow = -1;
    for (let i = 0; i < low.length; i++) {
      if (!live(i)) continue;
      const j = this.slot(low[i], high[i]);
      this.low[j] = low[i];
      this.high[j] = high[i];
      this.values[j] = values[i];
      this.used++;
    }
  }
}

/** Whether tie key of e is before that of f: (a hi, a lo, b hi, b lo) lexicographically. */
function tieBefore(t: Uint32Array, e: number, f: number): boolean {
  for (let k = 0; k < 4; k++) {
    const x = t[4 * e + k],
      y = t[4 * f + k];
    if (x !== y) return x < y;
  }
  return false;
}

/** A finite double as mantissa * 2^exponent, exactly. */
function exactDouble(x: number): { mantissa: bigint; exponent: number } {
  if (x === 0) return { mantissa: 0n, exponent: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  return biased === 0 ? { mantissa: fraction, exponent: -1074 } : { mantissa: fraction | (1n << 52n), exponent: biased - 1075 };
}

function nameSections(children: BlockChild[], labels: BigUint64Array, g: Graph): NameSection[] {
  const find = labelFinder(labels);
  return children.map((child) => {
    const r = child.graph.regions;
    let count = 0;
    for (let i = 0; i < r.length; i++) count += r.inside[i];
    const from = new BigUint64Array(count),
      to = new BigUint64Array(count);
    // Copied as 32-bit words: no bigint a region.
    const label = wordsOf(r.label),
      all = wordsOf(labels),
      fromWords = wordsOf(from),
      toWords = wordsOf(to);
    for (let i = 0, k = 0; i < r.length; i++) {
      if (!r.inside[i]) continue;
      const lo = label[2 * i],
        hi = label[2 * i + 1];
      const named = g.name[g.find(find(lo, hi, 'region'))];
      fromWords[2 * k] = lo;
      fromWords[2 * k + 1] = hi;
      toWords[2 * k] = all[2 * named];
      toWords[2 * k + 1] = all[2 * named + 1];
      k++;
    }
    return { key: child.key, from, to };
  });
}

// ---- the whole graph in one block, and the mapping values

export interface GraphEdge {
  a: bigint;
  b: bigint;
  /** The affinity sum; exact when a multiple of 2^-32 (else rounded to one). */
  sum: number;
  count: number;
}

/** A chunk graph of these edges whose regions (every label in them) lie whole inside it. */
export function wholeGraph(edges: GraphEdge[]): RegionGraph {
  const sorted = edges
    .map((e) => (e.a < e.b ? e : { ...e, a: e.b, b: e.a }))
    .sort((p, q) => (p.a < q.a ? -1 : p.a > q.a ? 1 : p.b < q.b ? -1 : p.b > q.b ? 1 : 0));
  const list = emptyEdges(sorted.length);
  sorted.forEach((e, i) => {
    if (e.a === e.b || e.a === 0n) throw new CorruptData(`region graph edge ${e.a}-${e.b}: an edge joins two different non-zero labels`);
    if (i > 0 && sorted[i - 1].a === e.a && sorted[i - 1].b === e.b) throw new CorruptData(`region graph edge ${e.a}-${e.b} appears twice`);
    const units = Math.round(e.sum * UNITS_PER_AFFINITY);
    list.a[i] = list.tieA[i] = e.a;
    list.b[i] = list.tieB[i] = e.b;
    list.whole[i] = Math.floor(units / UNITS_PER_AFFINITY);
    list.fraction[i] = units - list.whole[i] * UNITS_PER_AFFINITY;
    list.count[i] = e.count;
  });
  const labels = [...new Set(sorted.flatMap((e) => [e.a, e.b]))].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  const regions = emptyRegions(labels.length);
  labels.forEach((l, i) => {
    regions.label[i] = l;
    regions.inside[i] = 1;
  });
  return { kind: 'chunk', edges: list, regions };
}

export interface Agglomeration {
  /** label -> region id (its smallest label), for every label whose region id differs from it. */
  mapping: Map<bigint, bigint>;
  merges: number;
}

/** Agglomerates a whole graph in one block (every region complete). */
export function agglomerate(edges: GraphEdge[], threshold: number): Agglomeration {
  const result = agglomerateBlock([{ graph: wholeGraph(edges), outer: 0, key: 0n }], threshold);
  const mapping = new Map<bigint, bigint>();
  const [names] = result.names;
  for (let i = 0; i < names.from.length; i++) if (names.to[i] !== names.from[i]) mapping.set(names.from[i], names.to[i]);
  return { mapping, merges: result.merges };
}

/**
 * A mapping value: little-endian uint64 pairs (label, region id), sorted by label, for the labels
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

/**
 * The mapping's pairs, checked as the writer writes them: labels increasing, every label and region
 * id non-zero (background stays background), a region id never above its label. Added to `into`.
 */
export function decodeMapping(bytes: Uint8Array, where: string, into = new Map<bigint, bigint>()): Map<bigint, bigint> {
  if (bytes.length % 16 !== 0) throw new CorruptData(`${where}: ${bytes.length} bytes is not a whole number of (label, id) uint64 pairs`);
  const words = new BigUint64Array(bytes.slice().buffer);
  for (let i = 0; i < words.length; i += 2) {
    if (i > 0 && words[i] <= words[i - 2]) throw new CorruptData(`${where}: labels are not in increasing order at pair ${i / 2}`);
    if (words[i + 1] === 0n || words[i + 1] >= words[i])
      throw new CorruptData(`${where}: pair ${i / 2} maps label ${words[i]} to ${words[i + 1]}; a region id is a smaller non-zero label`);
    into.set(words[i], words[i + 1]);
  }
  return into;
}
