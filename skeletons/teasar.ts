// TEASAR skeletons of every label of a region (as kimimaro builds them): for each connected piece
// of a label (26-connected), the distance to its boundary (DBF, skeletons/edt.ts), a root at the
// geodesic farthest point from its centre, a penalty field that makes paths keep to the centre, one
// shortest-path tree from the root over it, then paths down that tree to the farthest voxel not yet
// covered, each path vertex covering a ball of radius scale * DBF + const, until every voxel is
// covered. Paths share the tree, so they join without duplicate vertices; a branch that ends next
// to another part of the skeleton (a loop, as a torus has) is joined to it.
import { Vec3 } from '../common/box.js';
import { MinHeap } from '../common/min-heap.js';
import { Labels, squaredEdt } from './edt.js';

export interface TeasarParams {
  /** Invalidation ball radius = scale * DBF + const (physical units). */
  scale: number;
  const: number;
  /** Pieces of fewer voxels are skipped. */
  dust: number;
  /** Penalty field: pdrfScale * (1 - DBF / max DBF)^pdrfExponent, plus the distance from the root over its largest. */
  pdrfScale: number;
  pdrfExponent: number;
}

export const DEFAULT_TEASAR: TeasarParams = { scale: 4, const: 0, dust: 100, pdrfScale: 100_000, pdrfExponent: 8 };

export interface Skeleton {
  /** x, y, z per vertex, in voxels of the region (a voxel's centre at index + 0.5). */
  vertices: Float32Array;
  /** Two vertex indices per edge. */
  edges: Uint32Array;
  /** The DBF at each vertex (physical units). */
  radius: Float32Array;
}

const NEIGHBOURS: Vec3[] = [];
for (let dz = -1; dz <= 1; dz++) for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) if (dx || dy || dz) NEIGHBOURS.push([dx, dy, dz]);

/**
 * The skeleton of every nonzero label of `labels` (x fastest, `shape`), voxels of `anisotropy`
 * physical size. `targets` (voxel indices) are reached by every piece that holds them, first, and
 * one of them is its root: the contact areas' centres on the faces a neighbouring task shares, so
 * that both tasks' skeletons pass through the same voxels there (kimimaro's fix_borders). `open`
 * faces (as squaredEdt's) are cut from a larger volume: no boundary there.
 */
export function skeletonize(
  labels: Labels,
  shape: Vec3,
  anisotropy: Vec3,
  params: TeasarParams = DEFAULT_TEASAR,
  targets: Set<number> = new Set(),
  open?: boolean[],
): Map<bigint, Skeleton> {
  // A piece that meets no boundary in the region (all of it open faces) gets its largest DBF as the same everywhere.
  const dbf = squaredEdt(labels, shape, anisotropy, open).map(Math.sqrt);
  const finite = dbf.reduce((m, x) => (x !== Infinity && x > m ? x : m), 0);
  for (let i = 0; i < dbf.length; i++) if (dbf[i] === Infinity) dbf[i] = finite || 1;
  const [sx, sy] = shape;
  const seen = new Uint8Array(labels.length);
  // A voxel's index in the piece being skeletonized (-1: not in it); set and cleared piece by piece.
  const local = new Int32Array(labels.length).fill(-1);
  const byLabel = new Map<bigint, { vertices: number[]; edges: number[]; radius: number[] }>();
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (seen[i] || l === 0 || l === 0n) continue;
    const piece = component(labels, shape, i, seen);
    if (piece.length < params.dust) continue;
    const label = BigInt(l);
    const into = byLabel.get(label) ?? { vertices: [], edges: [], radius: [] };
    byLabel.set(label, into);
    piece.forEach((v, k) => (local[v] = k));
    skeletonizePiece(piece, local, shape, anisotropy, dbf, params, into, targets);
    for (const v of piece) local[v] = -1;
  }
  const out = new Map<bigint, Skeleton>();
  for (const [label, s] of byLabel) {
    const n = s.vertices.length;
    const vertices = new Float32Array(3 * n);
    s.vertices.forEach((v, k) => {
      vertices[3 * k] = (v % sx) + 0.5;
      vertices[3 * k + 1] = (Math.floor(v / sx) % sy) + 0.5;
      vertices[3 * k + 2] = Math.floor(v / (sx * sy)) + 0.5;
    });
    out.set(label, { vertices, edges: Uint32Array.from(s.edges), radius: Float32Array.from(s.radius) });
  }
  return out;
}

/** The voxels 26-connected to `start` with its label, marked seen. */
function component(labels: Labels, shape: Vec3, start: number, seen: Uint8Array): Int32Array {
  const [sx, sy, sz] = shape;
  const l = labels[start];
  const list: number[] = [start];
  seen[start] = 1;
  for (let k = 0; k < list.length; k++) {
    const v = list[k];
    const x = v % sx,
      y = Math.floor(v / sx) % sy,
      z = Math.floor(v / (sx * sy));
    for (const [dx, dy, dz] of NEIGHBOURS) {
      const nx = x + dx,
        ny = y + dy,
        nz = z + dz;
      if (nx < 0 || ny < 0 || nz < 0 || nx >= sx || ny >= sy || nz >= sz) continue;
      const u = nx + sx * (ny + sy * nz);
      if (!seen[u] && labels[u] === l) {
        seen[u] = 1;
        list.push(u);
      }
    }
  }
  return Int32Array.from(list);
}

/**
 * Shortest paths from `source` over the piece (its voxels indexed 0..n-1 by `local`), an edge to u
 * costing its length times weight(u) (1: geodesic distance); the distances and each voxel's parent.
 */
function dijkstra(
  piece: Int32Array,
  local: Int32Array,
  shape: Vec3,
  anisotropy: Vec3,
  source: number,
  weight?: Float64Array,
): { distance: Float64Array; parent: Int32Array } {
  const [sx, sy, sz] = shape;
  const n = piece.length;
  const distance = new Float64Array(n).fill(Infinity);
  const parent = new Int32Array(n).fill(-1);
  const done = new Uint8Array(n);
  const lengths = NEIGHBOURS.map(([dx, dy, dz]) => Math.hypot(dx * anisotropy[0], dy * anisotropy[1], dz * anisotropy[2]));
  const offsets = NEIGHBOURS.map(([dx, dy, dz]) => dx + sx * (dy + sy * dz));
  const heap = new MinHeap();
  distance[source] = 0;
  heap.push(0, source);
  while (heap.size > 0) {
    const k = heap.pop();
    if (done[k]) continue;
    done[k] = 1;
    const v = piece[k];
    const x = v % sx,
      y = Math.floor(v / sx) % sy,
      z = Math.floor(v / (sx * sy));
    // Bounds are checked only for voxels on the region's faces.
    const inside = x > 0 && y > 0 && z > 0 && x < sx - 1 && y < sy - 1 && z < sz - 1;
    for (let e = 0; e < NEIGHBOURS.length; e++) {
      if (!inside) {
        const [dx, dy, dz] = NEIGHBOURS[e];
        const nx = x + dx,
          ny = y + dy,
          nz = z + dz;
        if (nx < 0 || ny < 0 || nz < 0 || nx >= sx || ny >= sy || nz >= sz) continue;
      }
      const j = local[v + offsets[e]];
      if (j < 0 || done[j]) continue;
      const d = distance[k] + lengths[e] * (weight ? weight[j] : 1);
      if (d < distance[j]) {
        distance[j] = d;
        parent[j] = k;
        heap.push(d, j);
      }
    }
  }
  return { distance, parent };
}

function skeletonizePiece(
  piece: Int32Array,
  local: Int32Array,
  shape: Vec3,
  anisotropy: Vec3,
  dbf: Float64Array,
  params: TeasarParams,
  into: { vertices: number[]; edges: number[]; radius: number[] },
  targets: Set<number>,
): void {
  const [sx, sy] = shape;
  const n = piece.length;
  const forced: number[] = [];
  piece.forEach((v, k) => targets.has(v) && forced.push(k));
  let centre = 0;
  for (let k = 1; k < n; k++) if (dbf[piece[k]] > dbf[piece[centre]]) centre = k;
  const farthest = (d: Float64Array) => d.reduce((best, x, k) => (x > d[best] ? k : best), 0);
  const root = forced.length ? forced[0] : farthest(dijkstra(piece, local, shape, anisotropy, centre).distance);
  const fromRoot = dijkstra(piece, local, shape, anisotropy, root).distance;
  const maxDbf = piece.reduce((m, v) => Math.max(m, dbf[v]), -Infinity);
  const maxDaf = Math.max(1e-9, fromRoot[farthest(fromRoot)]);
  const penalty = Float64Array.from(piece, (v, k) => params.pdrfScale * (1 - dbf[v] / maxDbf) ** params.pdrfExponent + fromRoot[k] / maxDaf);
  const { parent } = dijkstra(piece, local, shape, anisotropy, root, penalty);

  const coord = (v: number): Vec3 => [v % sx, Math.floor(v / sx) % sy, Math.floor(v / (sx * sy))];
  // The piece's bounding box: a ball's voxels outside it cannot be the piece's.
  const low: Vec3 = [Infinity, Infinity, Infinity],
    high: Vec3 = [-1, -1, -1];
  for (const v of piece) {
    const c = coord(v);
    for (let d = 0; d < 3; d++) {
      low[d] = Math.min(low[d], c[d]);
      high[d] = Math.max(high[d], c[d]);
    }
  }
  const covered = new Uint8Array(n);
  const vertexOf = new Int32Array(n).fill(-1);
  const first = into.vertices.length;
  const addVertex = (k: number) => {
    vertexOf[k] = into.vertices.length;
    into.vertices.push(piece[k]);
    into.radius.push(dbf[piece[k]]);
  };
  /** Covers the voxels of the piece within the ball of path vertex k. */
  const cover = (k: number) => {
    const r = params.scale * dbf[piece[k]] + params.const;
    const [cx, cy, cz] = coord(piece[k]);
    const reach = anisotropy.map((a) => Math.floor(r / a));
    const [ax, ay, az] = anisotropy;
    for (let dz = Math.max(-reach[2], low[2] - cz); dz <= Math.min(reach[2], high[2] - cz); dz++)
      for (let dy = Math.max(-reach[1], low[1] - cy); dy <= Math.min(reach[1], high[1] - cy); dy++) {
        if ((dy * ay) ** 2 + (dz * az) ** 2 > r * r) continue; // no dx reaches the ball
        const row = sx * (cy + dy + sy * (cz + dz));
        for (let dx = Math.max(-reach[0], low[0] - cx); dx <= Math.min(reach[0], high[0] - cx); dx++) {
          if ((dx * ax) ** 2 + (dy * ay) ** 2 + (dz * az) ** 2 > r * r) continue;
          const j = local[cx + dx + row];
          if (j >= 0) covered[j] = 1;
        }
      }
  };
  addVertex(root);
  cover(root);
  // Targets: the forced ones (covered or not), then the farthest voxels from the root first.
  const order = [...forced, ...Int32Array.from({ length: n }, (_, k) => k).sort((a, b) => fromRoot[b] - fromRoot[a] || a - b)];
  for (const [i, target] of order.entries()) {
    if (i >= forced.length ? covered[target] : vertexOf[target] >= 0) continue;
    // Down the tree from the target until the skeleton is reached.
    const path: number[] = [];
    for (let k = target; vertexOf[k] < 0; k = parent[k]) path.push(k);
    let below = vertexOf[path.length ? parent[path[path.length - 1]] : target];
    for (let p = path.length - 1; p >= 0; p--) {
      addVertex(path[p]);
      into.edges.push(below, vertexOf[path[p]]);
      below = vertexOf[path[p]];
      cover(path[p]);
    }
    covered[target] = 1;
  }
  joinLoops(into, first, anisotropy, params, sx, sy);
}

/**
 * Joins each end of this piece's skeleton (a vertex of one edge) to the nearest other vertex within
 * 1.5 balls of its branch that is far along the skeleton (more than 3 times that): where the paths
 * around a loop stop short of each other.
 */
function joinLoops(
  into: { vertices: number[]; edges: number[]; radius: number[] },
  first: number,
  anisotropy: Vec3,
  params: TeasarParams,
  sx: number,
  sy: number,
): void {
  const count = into.vertices.length - first;
  const adjacency: number[][] = Array.from({ length: count }, () => []);
  for (let e = 0; e < into.edges.length; e += 2) {
    const a = into.edges[e] - first,
      b = into.edges[e + 1] - first;
    if (a < 0 || b < 0) continue;
    adjacency[a].push(b);
    adjacency[b].push(a);
  }
  const position = (k: number): Vec3 => {
    const v = into.vertices[first + k];
    return [(v % sx) * anisotropy[0], (Math.floor(v / sx) % sy) * anisotropy[1], Math.floor(v / (sx * sy)) * anisotropy[2]];
  };
  const distance = (a: number, b: number) => {
    const [p, q] = [position(a), position(b)];
    return Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
  };
  for (let end = 0; end < count; end++) {
    if (adjacency[end].length !== 1) continue;
    // The branch's ball near its end (the end itself lies on the surface, its DBF small), half again:
    // the gap another path's balls left.
    let radius = 0;
    for (let k = end, prev = -1, hops = 0; hops < 10; hops++) {
      radius = Math.max(radius, into.radius[first + k]);
      const next = adjacency[k].find((u) => u !== prev);
      if (next === undefined) break;
      [prev, k] = [k, next];
    }
    const reach = 1.5 * (params.scale * radius + params.const) + 2 * Math.max(...anisotropy);
    // Along the skeleton from the end, as far as 3 reaches: the vertices near it on its own branch.
    const along = new Map<number, number>([[end, 0]]);
    const queue = [end];
    for (let q = 0; q < queue.length; q++)
      for (const u of adjacency[queue[q]]) {
        const d = along.get(queue[q])! + distance(queue[q], u);
        if (d <= 3 * reach && !along.has(u)) {
          along.set(u, d);
          queue.push(u);
        }
      }
    let best = -1;
    for (let k = 0; k < count; k++) if (!along.has(k) && distance(end, k) <= reach && (best < 0 || distance(end, k) < distance(end, best))) best = k;
    // Joined, the loop is closed for the ends after this one too (the join is on their way along).
    if (best >= 0) {
      into.edges.push(first + end, first + best);
      adjacency[end].push(best);
      adjacency[best].push(end);
    }
  }
}

/**
 * The centres of the contact areas of each label on the given faces of a region (faces[2d] the
 * lower one across axis d, faces[2d + 1] the upper one): per face plane, each 8-connected area of
 * one label's voxel deepest in it (the plane's 2D distance transform), the one nearest its
 * centroid along a flat ridge. A neighbouring task reads the same plane and finds the same voxels.
 */
export function borderTargets(labels: Labels, shape: Vec3, anisotropy: Vec3, faces: boolean[]): Set<number> {
  const out = new Set<number>();
  for (let d = 0; d < 3; d++)
    for (const upper of [false, true]) {
      if (!faces[2 * d + (upper ? 1 : 0)]) continue;
      const [u, w] = [0, 1, 2].filter((a) => a !== d);
      const at = upper ? shape[d] - 1 : 0;
      const nu = shape[u],
        nw = shape[w];
      const index = (i: number, j: number) => {
        const p = [0, 0, 0];
        p[d] = at;
        p[u] = i;
        p[w] = j;
        return p[0] + shape[0] * (p[1] + shape[1] * p[2]);
      };
      const plane = labels instanceof BigUint64Array ? new BigUint64Array(nu * nw) : new Uint32Array(nu * nw);
      for (let j = 0; j < nw; j++) for (let i = 0; i < nu; i++) plane[i + nu * j] = labels[index(i, j)] as never;
      // (The plane is one voxel thick: its third axis is open, or every voxel would be one from the edge.)
      const dist = squaredEdt(plane, [nu, nw, 1], [anisotropy[u], anisotropy[w], 1], [false, false, false, false, true, true]);
      const seen = new Uint8Array(nu * nw);
      for (let start = 0; start < nu * nw; start++) {
        if (seen[start] || plane[start] === 0 || plane[start] === 0n) continue;
        let best = start;
        const queue = [start];
        seen[start] = 1;
        for (let q = 0; q < queue.length; q++) {
          const c = queue[q];
          if (dist[c] > dist[best]) best = c;
          const ci = c % nu,
            cj = Math.floor(c / nu);
          for (let dj = -1; dj <= 1; dj++)
            for (let di = -1; di <= 1; di++) {
              const i = ci + di,
                j = cj + dj;
              if (i < 0 || j < 0 || i >= nu || j >= nw) continue;
              const k = i + nu * j;
              if (!seen[k] && plane[k] === plane[start]) {
                seen[k] = 1;
                queue.push(k);
              }
            }
        }
        // The ridge of an oblique crossing's long contact area is flat: of the voxels within a voxel
        // of the deepest, the one nearest the area's centroid (ties to the smallest index).
        const ridge = (Math.sqrt(dist[best]) - Math.max(anisotropy[u], anisotropy[w])) ** 2;
        const centroid = [0, 0];
        for (const c of queue) ((centroid[0] += (c % nu) / queue.length), (centroid[1] += Math.floor(c / nu) / queue.length));
        let chosen = -1,
          nearest = Infinity;
        for (const c of queue.sort((p, q) => p - q)) {
          if (dist[c] < ridge) continue;
          const d = (((c % nu) - centroid[0]) * anisotropy[u]) ** 2 + ((Math.floor(c / nu) - centroid[1]) * anisotropy[w]) ** 2;
          if (d < nearest) ((nearest = d), (chosen = c));
        }
        out.add(index(chosen % nu, Math.floor(chosen / nu)));
      }
    }
  return out;
}
