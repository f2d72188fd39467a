// The affinity watershed of Zlateski and Seung (2015), on one box of a 3-channel affinity graph
// (channel c at voxel v: the edge between v and v - e_c; edges leaving the box are not used).
//  1. Steepest ascent: each voxel whose strongest edge m is above low_threshold points along every
//     edge equal to m, and along every edge at or above high_threshold. Voxels with m <= low stay 0.
//  2. Plateaus: edges that point both ways form plateaus. A breadth-first search from the plateau's
//     exits (voxels with a one-way edge) leaves each plateau voxel one edge, toward the nearest exit.
//     Plateaus with no exit (regional maxima, and every region joined by edges >= high) are basin cores.
//  3. Basins: every voxel follows its edges to a core; one basin per core.
//  4. Region graph: the strongest edge between each pair of touching basins.
//  5. Size-dependent merge: edges at or above merge_threshold, strongest first, join two regions when
//     either is smaller than merge_size voxels (the reference algorithm's rule: it absorbs small
//     fragments into their neighbours).
//  6. Dust: regions smaller than dust_size voxels become 0.
// Labels 1..n are given in the order of each region's first voxel (x fastest), so results are
// deterministic.
import { Vec3 } from '../common/box.js';

export interface WatershedParams {
  high: number;
  low: number;
  mergeThreshold: number;
  mergeSize: number;
  dustSize: number;
}

export interface WatershedResult {
  /** Per voxel, 0 or the region 1..count. */
  labels: Uint32Array;
  count: number;
}

// Directions: 0..2 back along x, y, z; 3..5 forward. Bit d of a voxel's edge set is direction d.
const OPPOSITE = [3, 4, 5, 0, 1, 2];

/** The box's geometry, shared by the steps. */
interface Grid {
  shape: Vec3;
  n: number;
  /** Index offsets of the 6 directions. */
  step: number[];
}

export function watershed(affinities: Float32Array, shape: Vec3, params: WatershedParams): WatershedResult {
  const [sx, sy, sz] = shape;
  const n = sx * sy * sz;
  if (affinities.length !== 3 * n) throw new Error(`watershed: affinities have ${affinities.length} values, 3 channels of [${shape}] need ${3 * n}`);
  const grid: Grid = { shape, n, step: [-1, -sx, -sx * sy, 1, sx, sx * sy] };
  const edges = steepestAscent(affinities, grid, params);
  const pointer = drainPlateaus(edges, grid);
  const { basin, basins } = findBasins(edges, pointer, grid);
  const size = new Float64Array(basins + 1);
  for (let v = 0; v < n; v++) size[basin[v]]++;
  const pairs = regionGraph(affinities, basin, basins, grid);
  const find = mergeBySize(pairs, size, basins, params);
  return relabel(basin, find, size, params.dustSize);
}

/** 1. Steepest-ascent edges per voxel, as direction bits (an edge leaving the box counts as -1: never chosen). */
function steepestAscent(affinities: Float32Array, { shape: [sx, sy, sz], n }: Grid, { high, low }: WatershedParams): Uint8Array {
  const sxy = sx * sy;
  const edges = new Uint8Array(n);
  const choose = (a: number, m: number, bit: number) => (a === m || a >= high ? bit : 0);
  for (let z = 0, v = 0; z < sz; z++)
    for (let y = 0; y < sy; y++)
      for (let x = 0; x < sx; x++, v++) {
        const bx = x > 0 ? affinities[v] : -1,
          by = y > 0 ? affinities[n + v] : -1,
          bz = z > 0 ? affinities[2 * n + v] : -1;
        const fx = x < sx - 1 ? affinities[v + 1] : -1,
          fy = y < sy - 1 ? affinities[n + v + sx] : -1,
          fz = z < sz - 1 ? affinities[2 * n + v + sxy] : -1;
        const m = Math.max(bx, by, bz, fx, fy, fz);
        if (!(m > low)) continue;
        edges[v] = choose(bx, m, 1) | choose(by, m, 2) | choose(bz, m, 4) | choose(fx, m, 8) | choose(fy, m, 16) | choose(fz, m, 32);
      }
  return edges;
}

/** 2. Plateaus: from each exit, breadth-first, keep one edge per voxel pointing toward the exit (-1: none). */
function drainPlateaus(edges: Uint8Array, { n, step }: Grid): Int8Array {
  const pointer = new Int8Array(n).fill(-1);
  const queue = new Int32Array(n);
  let head = 0,
    tail = 0;
  for (let v = 0; v < n; v++) {
    const bits = edges[v];
    for (let d = 0; d < 6 && bits; d++) {
      if (bits & (1 << d) && !(edges[v + step[d]] & (1 << OPPOSITE[d]))) {
        pointer[v] = d;
        queue[tail++] = v;
        break;
      }
    }
  }
  while (head < tail) {
    const v = queue[head++];
    const bits = edges[v];
    for (let d = 0; d < 6; d++) {
      if (!(bits & (1 << d))) continue;
      const u = v + step[d];
      if (pointer[u] < 0 && edges[u] & (1 << OPPOSITE[d])) {
        pointer[u] = OPPOSITE[d];
        queue[tail++] = u;
      }
    }
  }
  return pointer;
}

/** 3. Basins: cores (voxels with edges but no pointer) by flood fill, then everyone follows pointers. */
function findBasins(edges: Uint8Array, pointer: Int8Array, { n, step }: Grid): { basin: Uint32Array; basins: number } {
  const basin = new Uint32Array(n);
  const queue = new Int32Array(n);
  let basins = 0;
  for (let v = 0; v < n; v++) {
    if (basin[v] || !edges[v] || pointer[v] >= 0) continue;
    basin[v] = ++basins;
    let head = 0,
      tail = 0;
    queue[tail++] = v;
    while (head < tail) {
      const w = queue[head++];
      for (let d = 0; d < 6; d++) {
        if (!(edges[w] & (1 << d))) continue;
        const u = w + step[d];
        if (!basin[u] && pointer[u] < 0 && edges[u] & (1 << OPPOSITE[d])) {
          basin[u] = basins;
          queue[tail++] = u;
        }
      }
    }
  }
  for (let v = 0; v < n; v++) {
    if (basin[v] || pointer[v] < 0) continue;
    let len = 0,
      w = v;
    while (!basin[w]) {
      queue[len++] = w;
      w += step[pointer[w]];
    }
    for (let i = 0; i < len; i++) basin[queue[i]] = basin[w];
  }
  return { basin, basins };
}

/** Pairs of touching basins (lo < hi) with the strongest edge between them; the first `count` entries are used. */
interface RegionGraph {
  lo: Uint32Array;
  hi: Uint32Array;
  aff: Float32Array;
  count: number;
}

/**
 * 4. Region graph: the strongest edge per pair of touching basins. Voxel edges are bucketed by their
 * lower basin (counting sort), then each bucket keeps one entry per upper basin.
 */
function regionGraph(affinities: Float32Array, basin: Uint32Array, basins: number, { shape: [sx, sy, sz], n, step }: Grid): RegionGraph {
  const bucket = new Uint32Array(basins + 2);
  const eachBoundaryEdge = (visit: (lo: number, hi: number, aff: number) => void) => {
    for (let z = 0, v = 0; z < sz; z++)
      for (let y = 0; y < sy; y++)
        for (let x = 0; x < sx; x++, v++) {
          const a = basin[v];
          if (!a) continue;
          for (let c = 0; c < 3; c++) {
            if ((c === 0 ? x : c === 1 ? y : z) === 0) continue;
            const b = basin[v + step[c]];
            if (b && b !== a) visit(Math.min(a, b), Math.max(a, b), affinities[c * n + v]);
          }
        }
  };
  eachBoundaryEdge((lo) => {
    bucket[lo + 1]++;
  });
  for (let a = 1; a <= basins + 1; a++) bucket[a] += bucket[a - 1];
  const upper = new Uint32Array(bucket[basins + 1]),
    strength = new Float32Array(upper.length);
  const fill = bucket.slice(0, basins + 1);
  eachBoundaryEdge((lo, hi, aff) => {
    upper[fill[lo]] = hi;
    strength[fill[lo]++] = aff;
  });
  // Typed arrays sized for the worst case (every voxel edge its own pair).
  const graph: RegionGraph = { lo: new Uint32Array(upper.length), hi: new Uint32Array(upper.length), aff: new Float32Array(upper.length), count: 0 };
  const seen = new Int32Array(basins + 1),
    at = new Uint32Array(basins + 1);
  for (let lo = 1; lo <= basins; lo++)
    for (let j = bucket[lo]; j < bucket[lo + 1]; j++) {
      const hi = upper[j];
      if (seen[hi] === lo) {
        graph.aff[at[hi]] = Math.max(graph.aff[at[hi]], strength[j]);
        continue;
      }
      seen[hi] = lo;
      at[hi] = graph.count;
      graph.lo[graph.count] = lo;
      graph.hi[graph.count] = hi;
      graph.aff[graph.count++] = strength[j];
    }
  return graph;
}

/**
 * 5. Size-dependent merge, strongest edge first (ties: in (lo, hi) order, as the sort is stable);
 * returns the union-find's root lookup, with `size` updated to the merged regions' sizes.
 */
function mergeBySize(graph: RegionGraph, size: Float64Array, basins: number, params: WatershedParams): (a: number) => number {
  let strong = 0;
  for (let i = 0; i < graph.count; i++) if (graph.aff[i] >= params.mergeThreshold) strong++;
  const candidates = new Uint32Array(strong);
  for (let i = 0, j = 0; i < graph.count; i++) if (graph.aff[i] >= params.mergeThreshold) candidates[j++] = i;
  // float32 bits order non-negative floats; inverted, an ascending sort puts the strongest first.
  const strengths = new Float32Array(candidates.length);
  for (let j = 0; j < candidates.length; j++) strengths[j] = graph.aff[candidates[j]];
  const keys = new Uint32Array(strengths.buffer);
  for (let j = 0; j < keys.length; j++) keys[j] = 0xffffffff - keys[j];
  const sorted = radixSortBy(keys, candidates);
  const parent = new Uint32Array(basins + 1);
  for (let a = 0; a <= basins; a++) parent[a] = a;
  const find = (a: number): number => {
    while (parent[a] !== a) {
      parent[a] = parent[parent[a]];
      a = parent[a];
    }
    return a;
  };
  for (const i of sorted) {
    const ra = find(graph.lo[i]),
      rb = find(graph.hi[i]);
    if (ra === rb || (size[ra] >= params.mergeSize && size[rb] >= params.mergeSize)) continue;
    const [keep, gone] = ra < rb ? [ra, rb] : [rb, ra];
    parent[gone] = keep;
    size[keep] += size[gone];
  }
  return find;
}

/** 6. Dust becomes 0; the other regions get labels 1.. in order of first voxel. */
function relabel(basin: Uint32Array, find: (a: number) => number, size: Float64Array, dustSize: number): WatershedResult {
  const label = new Uint32Array(size.length);
  const labels = new Uint32Array(basin.length);
  let count = 0;
  for (let v = 0; v < basin.length; v++) {
    if (!basin[v]) continue;
    const r = find(basin[v]);
    if (size[r] < dustSize) continue;
    if (!label[r]) label[r] = ++count;
    labels[v] = label[r];
  }
  return { labels, count };
}

/** `values` reordered by ascending `keys` (uint32), stably: four 8-bit counting-sort passes. */
function radixSortBy(keys: Uint32Array, values: Uint32Array): Uint32Array {
  let k = keys,
    v = values;
  let k2: Uint32Array = new Uint32Array(k.length),
    v2: Uint32Array = new Uint32Array(v.length);
  for (let shift = 0; shift < 32; shift += 8) {
    const count = new Uint32Array(257);
    for (let i = 0; i < k.length; i++) count[((k[i] >>> shift) & 255) + 1]++;
    for (let d = 0; d < 256; d++) count[d + 1] += count[d];
    for (let i = 0; i < k.length; i++) {
      const at = count[(k[i] >>> shift) & 255]++;
      k2[at] = k[i];
      v2[at] = v[i];
    }
    [k, k2] = [k2, k];
    [v, v2] = [v2, v];
  }
  return v;
}
