// The mean-affinity region graph of one chunk (region-graph.ts has the file): for every pair of
// touching segments, the exact sum and the count of the affinities on the voxel edges between them
// that the chunk owns (the edges whose upper voxel, v for the edge between v and v - e_c, lies in
// it; so each voxel edge is counted by exactly one chunk and the graphs of many chunks add up
// exactly), and the chunk's regions: every label with voxels in it, with the faces it touches, and
// the labels just below its low faces that its edges reach. The faces say which regions a block of
// chunks sees whole (agglomerate.ts).
import { Renumbered, renumberLabels } from '../kernels/renumber.js';
import { Box, shapeOf } from '../common/box.js';
import { InvalidInput } from '../common/errors.js';
import { affinityUnits, emptyEdges, emptyRegions, RegionGraph, UNITS_PER_AFFINITY } from './region-graph.js';
import { grown } from '../common/grown.js';

export interface MeanGraphInput {
  labels: Uint32Array | BigUint64Array;
  /** 3 channels, channel-major, over the same box as the labels; values in [0, 1] (the task checks them). */
  affinities: Float32Array;
  /** The box of `labels` and `affinities`: the chunks and one voxel below them (inside the volume). */
  box: Box;
  /** The chunks to make graphs of. */
  chunks: Box[];
  /** The volume's bounds: faces on them touch nothing. */
  bounds: Box;
}

/** One chunk graph per chunk of `input.chunks`, in that order. */
export function chunkGraphs(input: MeanGraphInput): RegionGraph[] {
  const shape = shapeOf(input.box);
  const table = renumberLabels(input.labels, false);
  const rank = table.rank!;
  const k = table.labels.length / table.wordsPerLabel;
  if (k * k > Number.MAX_SAFE_INTEGER) throw new InvalidInput(`mean graph: ${k} segments are too many for one box; use smaller tasks`);
  return input.chunks.map((chunk) => chunkGraph(input, chunk, shape, table, rank, k));
}

function chunkGraph(input: MeanGraphInput, chunk: Box, shape: number[], table: Renumbered, rank: Uint32Array, k: number): RegionGraph {
  const ids = table.ids;
  const [sx, sy] = shape;
  const n = sx * sy * shape[2];
  const lo = chunk.start.map((v, i) => v - input.box.start[i]);
  const hi = chunk.stop.map((v, i) => v - input.box.start[i]);
  const steps = [1, sx, sx * sy];
  const sums = new PairSums(k);
  const faces = new Uint8Array(k),
    inside = new Uint8Array(k),
    reached = new Uint8Array(k);
  const affinities = input.affinities;
  if (n >= 2 ** 29) throw new InvalidInput(`mean graph: a box of ${n} voxels is too large for one task; use smaller tasks`);
  // One pass over the rows: each voxel's three lower edges; boundary edges listed as 4v + axis.
  const at = new Int32Array(3 * sx);
  const rowLength = hi[0] - lo[0];
  for (let z = lo[2]; z < hi[2]; z++)
    for (let y = lo[1]; y < hi[1]; y++) {
      const row = lo[0] + sx * (y + sy * z);
      // Edges leave the box at its coordinate 0 along an axis.
      const found = boundaryEdges(ids, row, rowLength, lo[0] > 0, y > 0 ? steps[1] : 0, z > 0 ? steps[2] : 0, at);
      if (found === 0) continue;
      sums.addAll(ids, at, found, steps, affinities, n);
      // Lower voxels below the chunk's low faces: their labels are reached across that face.
      const shellY = y === lo[1] && y > 0,
        shellZ = z === lo[2] && z > 0,
        shellX = lo[0] > 0;
      if (shellY || shellZ || shellX)
        for (let j = 0; j < found; j++) {
          const v = at[j] >> 2,
            c = at[j] & 3;
          if ((c === 1 && shellY) || (c === 2 && shellZ) || (c === 0 && shellX && v === row)) reached[ids[v - steps[c]]] |= 1 << c;
        }
    }
  markInside(ids, chunk, input, shape, inside, faces);

  // Ids are in first-seen order: edges and regions are sorted by their labels' order (rank), and
  // their labels written as 32-bit words (no bigint per label).
  const idOfRank = new Uint32Array(k);
  for (let id = 0; id < k; id++) idOfRank[rank[id]] = id;
  // Slots in (smaller rank, larger rank) order: a counting sort by the first, then each run (a
  // region's few edges) by the second.
  const first = new Uint32Array(sums.size),
    second = new Uint32Array(sums.size);
  const starts = new Uint32Array(k + 1);
  for (let slot = 0; slot < sums.size; slot++) {
    const key = sums.keyOf[slot];
    const p = Math.floor(key / k);
    const rp = rank[p],
      rq = rank[key - p * k];
    first[slot] = rp < rq ? rp : rq;
    second[slot] = rp < rq ? rq : rp;
    starts[first[slot] + 1]++;
  }
  for (let r = 0; r < k; r++) starts[r + 1] += starts[r];
  const order = new Uint32Array(sums.size);
  const fill = starts.slice(0, k);
  for (let slot = 0; slot < sums.size; slot++) order[fill[first[slot]]++] = slot;
  for (let r = 0; r < k; r++)
    for (let i = starts[r] + 1; i < starts[r + 1]; i++) {
      const slot = order[i];
      let j = i;
      for (; j > starts[r] && second[order[j - 1]] > second[slot]; j--) order[j] = order[j - 1];
      order[j] = slot;
    }
  const edges = emptyEdges(sums.size);
  const aWords = new Uint32Array(edges.a.buffer),
    bWords = new Uint32Array(edges.b.buffer);
  const w = table.wordsPerLabel,
    words = table.labels;
  const putLabel = (out: Uint32Array, i: number, id: number) => {
    out[2 * i] = words[w * id];
    out[2 * i + 1] = w === 2 ? words[w * id + 1] : 0;
  };
  for (let i = 0; i < order.length; i++) {
    const slot = order[i];
    putLabel(aWords, i, idOfRank[first[slot]]);
    putLabel(bWords, i, idOfRank[second[slot]]);
    edges.whole[i] = sums.whole[slot];
    edges.fraction[i] = sums.fraction[slot];
    edges.count[i] = sums.count[slot];
  }
  edges.tieA.set(edges.a);
  edges.tieB.set(edges.b);
  const listed: number[] = [];
  for (let r = 1; r < k; r++) {
    const id = idOfRank[r];
    if (inside[id] || reached[id]) listed.push(id);
  }
  const regions = emptyRegions(listed.length);
  const labelWordsOut = new Uint32Array(regions.label.buffer);
  listed.forEach((id, i) => {
    putLabel(labelWordsOut, i, id);
    regions.faces[i] = faces[id] | reached[id];
    regions.inside[i] = inside[id];
  });
  return { kind: 'chunk', edges, regions };
}

/**
 * Exact affinity sums and counts per pair of ids (whole units of 2^32 carried out of the fraction),
 * in slots found by an open-addressing hash of the pair's key (typed arrays: no Map per edge).
 */
class PairSums {
  size = 0;
  keyOf = new Float64Array(1024);
  whole = new Float64Array(1024);
  fraction = new Float64Array(1024);
  count = new Float64Array(1024);
  private table = new Int32Array(2048).fill(-1);
  private lastKey = -1;
  private lastSlot = 0;

  constructor(private readonly k: number) {}

  /** Adds the edges at[0..found) (4v + axis: between v and v - steps[axis]) with their affinities. */
  addAll(ids: Uint32Array, at: Int32Array, found: number, steps: number[], affinities: Float32Array, n: number): void {
    const k = this.k;
    for (let j = 0; j < found; j++) {
      const v = at[j] >> 2,
        c = at[j] & 3;
      const p = ids[v],
        q = ids[v - steps[c]];
      const key = p < q ? p * k + q : q * k + p;
      // Neighbouring voxel edges mostly join the same pair: the last pair's slot saves a lookup.
      const slot = key === this.lastKey ? this.lastSlot : this.slot(key);
      this.lastKey = key;
      this.lastSlot = slot;
      let f = this.fraction[slot] + affinityUnits(affinities[c * n + v]);
      if (f >= UNITS_PER_AFFINITY) {
        f -= UNITS_PER_AFFINITY;
        this.whole[slot]++;
      }
      this.fraction[slot] = f;
      this.count[slot]++;
    }
  }

  private static hash(key: number): number {
    const h = Math.imul(key | 0, 0x9e3779b1) ^ Math.imul((key / 4294967296) | 0, 0x85ebca6b);
    return h ^ (h >>> 15);
  }

  private slot(key: number): number {
    const mask = this.table.length - 1;
    let i = PairSums.hash(key) & mask;
    for (; this.table[i] >= 0; i = (i + 1) & mask) if (this.keyOf[this.table[i]] === key) return this.table[i];
    if (this.size === this.keyOf.length) this.grow();
    const slot = this.size++;
    this.keyOf[slot] = key;
    if (2 * this.size > this.table.length) this.rehash();
    else this.table[i] = slot;
    return slot;
  }

  private grow(): void {
    const length = 2 * this.keyOf.length;
    this.keyOf = grown(this.keyOf, length);
    this.whole = grown(this.whole, length);
    this.fraction = grown(this.fraction, length);
    this.count = grown(this.count, length);
  }

  private rehash(): void {
    this.table = new Int32Array(4 * this.table.length).fill(-1);
    const mask = this.table.length - 1;
    for (let slot = 0; slot < this.size; slot++) {
      let i = PairSums.hash(this.keyOf[slot]) & mask;
      while (this.table[i] >= 0) i = (i + 1) & mask;
      this.table[i] = slot;
    }
  }
}

/**
 * The boundary edges (two different non-zero ids) among the lower edges of a row's voxels, as
 * 4v + axis into `at`; returns how many. `xFirst`: the row's first voxel has an x edge in the box;
 * `stepY`, `stepZ`: 0 where the row has no y or z edges in the box. A small function of its own so
 * that it is compiled as a tight loop: most voxels are on no boundary.
 */
function boundaryEdges(ids: Uint32Array, row: number, length: number, xFirst: boolean, stepY: number, stepZ: number, at: Int32Array): number {
  let k = 0;
  for (let x = 0; x < length; x++) {
    const v = row + x;
    const p = ids[v];
    if (p === 0) continue;
    if (x > 0 || xFirst) {
      const q = ids[v - 1];
      if (q !== p && q !== 0) at[k++] = 4 * v;
    }
    if (stepY) {
      const q = ids[v - stepY];
      if (q !== p && q !== 0) at[k++] = 4 * v + 1;
    }
    if (stepZ) {
      const q = ids[v - stepZ];
      if (q !== p && q !== 0) at[k++] = 4 * v + 2;
    }
  }
  return k;
}

/** Marks every label with voxels in the chunk, and the chunk's faces (not on the volume's bounds) it touches. */
function markInside(ids: Uint32Array, chunk: Box, input: MeanGraphInput, shape: number[], inside: Uint8Array, faces: Uint8Array): void {
  const [sx, sy] = shape;
  const lo = chunk.start.map((v, i) => v - input.box.start[i]);
  const hi = chunk.stop.map((v, i) => v - input.box.start[i]);
  const low = [0, 1, 2].map((d) => chunk.start[d] > input.bounds.start[d]);
  const high = [0, 1, 2].map((d) => chunk.stop[d] < input.bounds.stop[d]);
  for (let z = lo[2]; z < hi[2]; z++)
    for (let y = lo[1]; y < hi[1]; y++) {
      const row = lo[0] + sx * (y + sy * z),
        end = row + hi[0] - lo[0];
      let rowFaces = 0;
      if (low[1] && y === lo[1]) rowFaces |= 2;
      if (low[2] && z === lo[2]) rowFaces |= 4;
      if (high[1] && y === hi[1] - 1) rowFaces |= 16;
      if (high[2] && z === hi[2] - 1) rowFaces |= 32;
      markRow(ids, row, end, inside, faces, rowFaces);
      if (low[0]) faces[ids[row]] |= 1;
      if (high[0]) faces[ids[end - 1]] |= 8;
    }
  inside[0] = faces[0] = 0;
}

/** Marks the ids of a row inside, with `rowFaces`; runs of one id cost one step. */
function markRow(ids: Uint32Array, start: number, end: number, inside: Uint8Array, faces: Uint8Array, rowFaces: number): void {
  let last = -1;
  for (let v = start; v < end; v++) {
    const id = ids[v];
    if (id === last) continue;
    last = id;
    inside[id] = 1;
    faces[id] |= rowFaces;
  }
}

/** Adds chunk graphs (edge sums of the same pair add); sorted by (a, b). For export and tests. */
export function mergedEdges(graphs: RegionGraph[]): { a: bigint; b: bigint; whole: number; fraction: number; count: number }[] {
  const merged = new Map<string, { a: bigint; b: bigint; whole: number; fraction: number; count: number }>();
  for (const g of graphs) {
    const e = g.edges;
    for (let i = 0; i < e.length; i++) {
      const key = `${e.a[i]},${e.b[i]}`;
      const have = merged.get(key);
      if (!have) merged.set(key, { a: e.a[i], b: e.b[i], whole: e.whole[i], fraction: e.fraction[i], count: e.count[i] });
      else {
        have.fraction += e.fraction[i];
        have.whole += e.whole[i];
        if (have.fraction >= UNITS_PER_AFFINITY) {
          have.fraction -= UNITS_PER_AFFINITY;
          have.whole++;
        }
        have.count += e.count[i];
      }
    }
  }
  return [...merged.values()].sort((p, q) => (p.a < q.a ? -1 : p.a > q.a ? 1 : p.b < q.b ? -1 : p.b > q.b ? 1 : 0));
}
