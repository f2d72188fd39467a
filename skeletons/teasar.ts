// TEASAR skeletons of every label of a region (as kimimaro builds them): for each connected piece
// of a label (26-connected), the distance to its boundary (DBF, skeletons/edt.ts), a root at the
// geodesic farthest point from its centre, a penalty field that makes paths keep to the centre, then
// from the farthest voxel not yet covered the cheapest path over that field to the skeleton so far
// (kimimaro's fix_branching: a branch leaves the skeleton where the paths truly part), each path
// vertex covering a ball of radius scale * DBF + const, until every voxel is covered. A branch that
// ends next to another part of the skeleton (a loop, as a torus has) is joined to it.
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
  const dbf = squaredEdt(labels, shape, anisotropy, open);
  let finite = 0;
  for (let i = 0; i < dbf.length; i++) if ((dbf[i] = Math.sqrt(dbf[i])) !== Infinity && dbf[i] > finite) finite = dbf[i];
  for (let i = 0; i < dbf.length; i++) if (dbf[i] === Infinity) dbf[i] = finite || 1;
  const [sx, sy] = shape;
  const seen = new Uint8Array(labels.length);
  // A voxel's index in the piece being skeletonized (-1: not in it), and whether a ball has covered
  // it (set in rows, over other labels' voxels too); both cleared piece by piece.
  const local = new Int32Array(labels.length).fill(-1);
  const covered = new Uint8Array(labels.length);
  const byLabel = new Map<bigint, { vertices: number[]; edges: number[]; radius: number[] }>();
  const steps = neighbourSteps(shape, anisotropy);
  for (let i = 0; i < labels.length; i++) {
    if (seen[i]) continue;
    const l = labels[i];
    if (!l) continue; // (0 or 0n)
    const piece = component(labels, shape, steps, i, seen);
    if (piece.length < params.dust) continue;
    const label = BigInt(l);
    const into = byLabel.get(label) ?? { vertices: [], edges: [], radius: [] };
    byLabel.set(label, into);
    for (let k = 0; k < piece.length; k++) local[piece[k]] = k;
    skeletonizePiece(piece, local, covered, shape, steps, anisotropy, dbf, params, into, targets);
    for (let k = 0; k < piece.length; k++) local[piece[k]] = -1;
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

/** A region's 26 neighbour steps: index offsets, lengths (physical units), and its voxels on its faces (1), whose neighbours are checked. */
interface Steps {
  offsets: Int32Array;
  lengths: Float64Array;
  onFace: Uint8Array;
}

function neighbourSteps(shape: Vec3, anisotropy: Vec3): Steps {
  const [sx, sy, sz] = shape;
  const onFace = new Uint8Array(sx * sy * sz);
  for (let z = 0; z < sz; z++)
    for (let y = 0; y < sy; y++) {
      const row = sx * (y + sy * z);
      if (z === 0 || y === 0 || z === sz - 1 || y === sy - 1) onFace.fill(1, row, row + sx);
      else ((onFace[row] = 1), (onFace[row + sx - 1] = 1));
    }
  return {
    offsets: Int32Array.from(NEIGHBOURS, ([dx, dy, dz]) => dx + sx * (dy + sy * dz)),
    lengths: Float64Array.from(NEIGHBOURS, ([dx, dy, dz]) => Math.hypot(dx * anisotropy[0], dy * anisotropy[1], dz * anisotropy[2])),
    onFace,
  };
}

/** Whether voxel v's neighbour e lies in the region (checked only for voxels on its faces). */
function inRegion(v: number, e: number, shape: Vec3): boolean {
  const [sx, sy, sz] = shape;
  const [dx, dy, dz] = NEIGHBOURS[e];
  const x = (v % sx) + dx,
    y = (Math.floor(v / sx) % sy) + dy,
    z = Math.floor(v / (sx * sy)) + dz;
  return x >= 0 && y >= 0 && z >= 0 && x < sx && y < sy && z < sz;
}

/** The voxels 26-connected to `start` with its label, marked seen. */
function component(labels: Labels, shape: Vec3, steps: Steps, start: number, seen: Uint8Array): Int32Array {
  const { offsets, onFace } = steps;
  const l = labels[start];
  const list: number[] = [start];
  seen[start] = 1;
  for (let k = 0; k < list.length; k++) {
    const v = list[k];
    const face = onFace[v] === 1;
    for (let e = 0; e < 26; e++) {
      if (face && !inRegion(v, e, shape)) continue;
      const u = v + offsets[e];
      if (!seen[u] && labels[u] === l) {
        seen[u] = 1;
        list.push(u);
      }
    }
  }
  return Int32Array.from(list);
}

/**
 * Dijkstra over a piece (its voxels indexed 0..n-1 by `local`), an edge to u costing its length
 * times weight(u) (1: geodesic distance). Its arrays are kept between runs, and `reset` clears only
 * the voxels a run reached, as most runs toward the skeleton stop near their start.
 */
class PieceSearch {
  readonly distance: Float64Array;
  readonly parent: Int32Array;
  private readonly done: Uint8Array;
  private readonly reached: number[] = [];
  private readonly heap = new MinHeap();

  constructor(
    private readonly piece: Int32Array,
    private readonly local: Int32Array,
    private readonly shape: Vec3,
    private readonly steps: Steps,
    private readonly weight?: Float64Array,
  ) {
    const n = piece.length;
    this.distance = new Float64Array(n).fill(Infinity);
    this.parent = new Int32Array(n).fill(-1);
    this.done = new Uint8Array(n);
  }

  /** Shortest paths from `source` until a voxel `stop` accepts is reached (returned), or all (-1). */
  run(source: number, stop?: (k: number) => boolean): number {
    const { piece, local, distance, parent, done, reached, heap, shape, weight } = this;
    const { offsets, lengths, onFace } = this.steps;
    reached.push(source);
    distance[source] = 0;
    heap.size = 0;
    heap.push(0, source);
    while (heap.size > 0) {
      const k = heap.pop();
      if (done[k]) continue;
      done[k] = 1;
      if (stop?.(k)) return k;
      const v = piece[k];
      const face = onFace[v] === 1;
      for (let e = 0; e < 26; e++) {
        if (face && !inRegion(v, e, shape)) continue;
        const j = local[v + offsets[e]];
        if (j < 0 || done[j]) continue;
        const d = distance[k] + lengths[e] * (weight ? weight[j] : 1);
        if (d < distance[j]) {
          if (distance[j] === Infinity) reached.push(j);
          distance[j] = d;
          parent[j] = k;
          heap.push(d, j);
        }
      }
    }
    return -1;
  }

  /** The path from the last run's source to k (both included). */
  pathTo(k: number): number[] {
    const path: number[] = [];
    for (; k !== -1; k = this.parent[k]) path.push(k);
    return path.reverse();
  }

  reset(): void {
    for (const k of this.reached) ((this.distance[k] = Infinity), (this.parent[k] = -1), (this.done[k] = 0));
    this.reached.length = 0;
  }
}

/** The geodesic distances over a piece from `source` (every voxel reached). */
function geodesic(piece: Int32Array, local: Int32Array, shape: Vec3, steps: Steps, source: number): Float64Array {
  const search = new PieceSearch(piece, local, shape, steps);
  search.run(source);
  return search.distance;
}

function skeletonizePiece(
  piece: Int32Array,
  local: Int32Array,
  covered: Uint8Array,
  shape: Vec3,
  steps: Steps,
  anisotropy: Vec3,
  dbf: Float64Array,
  params: TeasarParams,
  into: { vertices: number[]; edges: number[]; radius: number[] },
  targets: Set<number>,
): void {
  const [sx, sy] = shape;
  const n = piece.length;
  // The targets in this piece, in its order.
  const forced = [...targets].map((v) => local[v]).filter((k) => k >= 0);
  forced.sort((a, b) => a - b);
  let centre = 0;
  for (let k = 1; k < n; k++) if (dbf[piece[k]] > dbf[piece[centre]]) centre = k;
  const farthest = (d: Float64Array) => {
    let best = 0;
    for (let k = 1; k < d.length; k++) if (d[k] > d[best]) best = k;
    return best;
  };
  const root = forced.length ? forced[0] : farthest(geodesic(piece, local, shape, steps, centre));
  const fromRoot = geodesic(piece, local, shape, steps, root);
  const maxDbf = dbf[piece[centre]];
  const maxDaf = Math.max(1e-9, fromRoot[farthest(fromRoot)]);
  const penalty = Float64Array.from(piece, (v, k) => params.pdrfScale * (1 - dbf[v] / maxDbf) ** params.pdrfExponent + fromRoot[k] / maxDaf);
  const search = new PieceSearch(piece, local, shape, steps, penalty);

  const coord = (v: number): Vec3 => [v % sx, Math.floor(v / sx) % sy, Math.floor(v / (sx * sy))];
  // The piece's bounding box: a ball's voxels outside it cannot be the piece's.
  const low: Vec3 = [Infinity, Infinity, Infinity],
    high: Vec3 = [-1, -1, -1];
  for (let k = 0; k < n; k++) {
    const v = piece[k];
    const x = v % sx,
      y = Math.floor(v / sx) % sy,
      z = Math.floor(v / (sx * sy));
    if (x < low[0]) low[0] = x;
    if (x > high[0]) high[0] = x;
    if (y < low[1]) low[1] = y;
    if (y > high[1]) high[1] = y;
    if (z < low[2]) low[2] = z;
    if (z > high[2]) high[2] = z;
  }
  const vertexOf = new Int32Array(n).fill(-1);
  const first = into.vertices.length;
  const addVertex = (k: number) => {
    vertexOf[k] = into.vertices.length;
    into.vertices.push(piece[k]);
    into.radius.push(dbf[piece[k]]);
  };
  /** Covers the voxels within the ball of path vertex k (inside the piece's box), a row at a time. */
  const cover = (k: number) => {
    const r = params.scale * dbf[piece[k]] + params.const;
    const [cx, cy, cz] = coord(piece[k]);
    const [ax, ay, az] = anisotropy;
    const [ry, rz] = [Math.floor(r / ay), Math.floor(r / az)];
    for (let dz = Math.max(-rz, low[2] - cz); dz <= Math.min(rz, high[2] - cz); dz++)
      for (let dy = Math.max(-ry, low[1] - cy); dy <= Math.min(ry, high[1] - cy); dy++) {
        const rest = r * r - (dy * ay) ** 2 - (dz * az) ** 2;
        if (rest < 0) continue; // no dx reaches the ball
        // The largest dx with (dx * ax)^2 <= rest, exactly (sqrt's rounding corrected).
        let w = Math.floor(Math.sqrt(rest) / ax);
        while (((w + 1) * ax) ** 2 <= rest) w++;
        while (w > 0 && (w * ax) ** 2 > rest) w--;
        const x0 = Math.max(cx - w, low[0]),
          x1 = Math.min(cx + w, high[0]);
        const row = sx * (cy + dy + sy * (cz + dz));
        if (x0 <= x1) covered.fill(1, row + x0, row + x1 + 1);
      }
  };
  addVertex(root);
  cover(root);
  // Targets: the forced ones (covered or not), then the farthest voxels from the root first.
  const byDistance = Int32Array.from({ length: n }, (_, k) => k).sort((a, b) => fromRoot[b] - fromRoot[a] || a - b);
  for (let i = 0; i < forced.length + n; i++) {
    const target = i < forced.length ? forced[i] : byDistance[i - forced.length];
    if (i >= forced.length ? covered[piece[target]] : vertexOf[target] >= 0) continue;
    // From the target to the nearest voxel of the skeleton so far (the rail): branches leave the
    // skeleton where the paths truly part (kimimaro's fix_branching).
    const rail = search.run(target, (k) => vertexOf[k] >= 0);
    if (rail < 0) throw new Error(`TEASAR: piece voxel ${piece[target]} does not reach the skeleton`); // (a piece is connected)
    const path = search.pathTo(rail);
    search.reset();
    let below = vertexOf[path[path.length - 1]];
    for (let p = path.length - 2; p >= 0; p--) {
      addVertex(path[p]);
      into.edges.push(below, vertexOf[path[p]]);
      below = vertexOf[path[p]];
      cover(path[p]);
    }
    covered[piece[target]] = 1;
  }
  for (let z = low[2]; z <= high[2]; z++) for (let y = low[1]; y <= high[1]; y++) covered.fill(0, sx * (y + sy * z) + low[0], sx * (y + sy * z) + high[0] + 1);
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
 * A face a region shares with a neighbouring region, as both read it: the plane of voxels they both
 * hold, grown past the face's edges (so that a contact area those edges cut is seen whole, as the
 * neighbour sees it too).
 */
export interface FacePlane {
  /** The axis the face is across, and the face's coordinate in the region (0 or its last voxel). */
  axis: number;
  at: number;
  /** The plane's labels, its first in-plane axis fastest (the other two axes ascending). */
  labels: Labels;
  size: [number, number];
  /** Where the region's face starts in the plane. */
  origin: [number, number];
  /** Of the plane's edges (low, high along its first axis, then its second), those cut from a larger volume. */
  open: boolean[];
}

/**
 * Where each label's skeleton crosses the regions' shared faces, as voxels of the region (x fastest,
 * `shape`): per face plane, each 8-connected area of one label has a centre (the voxel deepest in it
 * by the plane's 2D distance transform, the one nearest the area's centroid along a flat ridge); each
 * connected part of the area inside the face gets the voxel of it nearest that centre (the centre
 * itself where the part holds it). The neighbour reads the same plane and finds the same voxels, and
 * the area is seen past the face's edges, so that a tube crossing near an edge or a corner is pinned
 * where its axis crosses, not at the centre of the part the edges leave.
 */
export function borderTargets(planes: FacePlane[], shape: Vec3, anisotropy: Vec3): Set<number> {
  const out = new Set<number>();
  for (const plane of planes) {
    const d = plane.axis;
    const [u, w] = [0, 1, 2].filter((a) => a !== d);
    const [nu, nw] = plane.size;
    const [ou, ow] = plane.origin;
    const labels = plane.labels;
    const inFace = (c: number) => {
      const i = (c % nu) - ou,
        j = Math.floor(c / nu) - ow;
      return i >= 0 && j >= 0 && i < shape[u] && j < shape[w];
    };
    const regionIndex = (c: number) => {
      const p = [0, 0, 0];
      p[d] = plane.at;
      p[u] = (c % nu) - ou;
      p[w] = Math.floor(c / nu) - ow;
      return p[0] + shape[0] * (p[1] + shape[1] * p[2]);
    };
    const same = (a: number, b: number) => labels[a] === labels[b];
    // (The plane is one voxel thick: its third axis is open, or every voxel would be one from the edge.)
    const dist = squaredEdt(labels, [nu, nw, 1], [anisotropy[u], anisotropy[w], 1], [...plane.open, true, true]);
    const seen = new Uint8Array(nu * nw);
    const part = new Uint8Array(nu * nw);
    for (let start = 0; start < nu * nw; start++) {
      if (seen[start] || labels[start] === 0 || labels[start] === 0n) continue;
      const area = flood(start, nu, nw, (k) => !seen[k] && same(k, start), seen);
      let best = start;
      for (const c of area) if (dist[c] > dist[best]) best = c;
      // The ridge of an oblique crossing's long contact area is flat: of the voxels within a voxel
      // of the deepest, the one nearest the area's centroid (ties to the smallest index).
      const ridge = (Math.sqrt(dist[best]) - Math.max(anisotropy[u], anisotropy[w])) ** 2;
      const centroid = [0, 0];
      for (const c of area) ((centroid[0] += (c % nu) / area.length), (centroid[1] += Math.floor(c / nu) / area.length));
      area.sort((p, q) => p - q);
      const nearestTo = (voxels: number[], [cu, cw]: number[], keep: (c: number) => boolean) => {
        let chosen = -1,
          nearest = Infinity;
        for (const c of voxels) {
          if (!keep(c)) continue;
          const e = (((c % nu) - cu) * anisotropy[u]) ** 2 + ((Math.floor(c / nu) - cw) * anisotropy[w]) ** 2;
          if (e < nearest) ((nearest = e), (chosen = c));
        }
        return chosen;
      };
      const centre = nearestTo(area, centroid, (c) => dist[c] >= ridge);
      const at = [centre % nu, Math.floor(centre / nu)];
      // Each part of the area inside the face (8-connected there): its voxel nearest the centre.
      for (const c of area) if (inFace(c)) part[c] = 1;
      for (const c of area) {
        if (part[c] !== 1) continue;
        const inside = flood(c, nu, nw, (k) => part[k] === 1, part, 2);
        out.add(
          regionIndex(
            nearestTo(
              inside.sort((p, q) => p - q),
              at,
              () => true,
            ),
          ),
        );
      }
    }
  }
  return out;
}

/** The voxels 8-connected to `start` in an nu x nw plane that `joins`, each marked `mark` in `marks`. */
function flood(start: number, nu: number, nw: number, joins: (k: number) => boolean, marks: Uint8Array, mark = 1): number[] {
  const queue = [start];
  marks[start] = mark;
  for (let q = 0; q < queue.length; q++) {
    const c = queue[q];
    const ci = c % nu,
      cj = Math.floor(c / nu);
    for (let dj = -1; dj <= 1; dj++)
      for (let di = -1; di <= 1; di++) {
        const i = ci + di,
          j = cj + dj;
        if (i < 0 || j < 0 || i >= nu || j >= nw) continue;
        const k = i + nu * j;
        if (joins(k)) {
          marks[k] = mark;
          queue.push(k);
        }
      }
  }
  return queue;
}
