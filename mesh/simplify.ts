// Quadric edge-collapse simplification (Garland and Heckbert 1997): each vertex carries the sum of
// the squared-distance quadrics of its faces' planes; the edge whose merged vertex would stray least
// from those planes collapses first. Collapses that would tear or fold the surface are refused:
// - locked vertices (on a plane shared with a neighbouring chunk, or on an open edge) never move;
// - the link condition (the two ends share exactly the two neighbours opposite the edge) keeps the
//   mesh manifold, and a neighbour left with fewer than three faces would collapse a tetrahedron;
// - no face may flip or become degenerate.
// The greedy order does not depend on the stopping limits, so a stricter level stops earlier on the
// same sequence: triangle counts fall monotonically with the level.
import { IndexedMesh } from './marching-cubes.js';
import { MinHeap } from '../common/min-heap.js';
import { vertexAdjacency } from './topology.js';
import { InvalidInput } from '../common/errors.js';
import { grown } from '../common/grown.js';

export const MAX_SIMPLIFICATION = 10;

export interface SimplifyLimits {
  /** Stop once the mesh has at most this many triangles. */
  targetTriangles: number;
  /** Never collapse an edge whose quadric error (sum of squared distances, in position units^2) exceeds this. */
  maxError: number;
}

/**
 * Level 0 keeps every triangle; level s aims at 2^-s of them, and lets the merged vertex stray up to
 * about 0.15 * s voxel from its faces' planes (summed over them, hence the larger bound).
 */
export function simplificationLimits(level: number, triangles: number): SimplifyLimits {
  if (!Number.isInteger(level) || level < 0 || level > MAX_SIMPLIFICATION)
    throw new InvalidInput(`simplification ${level} must be an integer 0..${MAX_SIMPLIFICATION}`);
  const deviation = 0.15 * level;
  return { targetTriangles: Math.ceil(triangles / 2 ** level), maxError: 4 * deviation * deviation };
}

type Quadric = Float64Array; // a², ab, ac, ad, b², bc, bd, c², cd, d² of the plane ax + by + cz + d = 0, summed

function quadricError(q: Quadric, o: number, x: number, y: number, z: number): number {
  return (
    q[o] * x * x +
    2 * q[o + 1] * x * y +
    2 * q[o + 2] * x * z +
    2 * q[o + 3] * x +
    q[o + 4] * y * y +
    2 * q[o + 5] * y * z +
    2 * q[o + 6] * y +
    q[o + 7] * z * z +
    2 * q[o + 8] * z +
    q[o + 9]
  );
}

/** A box a simplification's vertices stay in (a multi-resolution mesh's octree cell). */
export interface WithinBox {
  lo: ArrayLike<number>;
  hi: ArrayLike<number>;
}

export function simplifyMesh(mesh: IndexedMesh, fixed: Uint8Array, limits: SimplifyLimits, within?: WithinBox): IndexedMesh {
  if (mesh.triangles.length / 3 <= limits.targetTriangles) return mesh;
  const collapse = new EdgeCollapse(mesh, fixed, within);
  collapse.queueEveryEdge();
  collapse.run(limits);
  return collapse.result();
}

/** The state of one simplification: positions, faces per vertex, quadrics, and the candidate queue. */
class EdgeCollapse {
  private readonly pos: Float64Array;
  private readonly tri: Int32Array;
  private readonly faceAlive: Uint8Array;
  private readonly faces: number[][];
  private readonly locked: Uint8Array;
  private readonly Q: Float64Array;
  private readonly start: Uint32Array | Int32Array;
  private readonly adjacent: Uint32Array | Int32Array;
  // Candidate edges: their ends, the ends' stamps when queued and where the merged vertex goes. An
  // entry is stale once either end has changed (stamps) or gone; a live one's place is still right
  // (an end's position and quadric change only with its stamp).
  private readonly stamp: Uint32Array;
  private readonly removed: Uint8Array;
  private candidates = 0;
  private cu = new Int32Array(1024);
  private cv = new Int32Array(1024);
  private su = new Uint32Array(1024);
  private sv = new Uint32Array(1024);
  private place = new Float64Array(3 * 1024);
  private readonly heap = new MinHeap();
  // Neighbour sets as stamps in one array, so no set is built per candidate.
  private readonly mark: Uint32Array;
  private stamp0 = 0;
  private triangles: number;
  private readonly target = new Float64Array(3);
  private readonly before = new Float64Array(3);
  private readonly after = new Float64Array(3);
  private readonly q = new Float64Array(10);

  constructor(
    mesh: IndexedMesh,
    fixed: Uint8Array,
    private readonly within?: WithinBox,
  ) {
    const n = mesh.positions.length / 3,
      m = mesh.triangles.length / 3;
    this.triangles = m;
    this.pos = Float64Array.from(mesh.positions);
    this.tri = Int32Array.from(mesh.triangles);
    this.faceAlive = new Uint8Array(m).fill(1);
    this.faces = Array.from({ length: n }, () => []);
    for (let f = 0; f < m; f++) for (let k = 0; k < 3; k++) this.faces[this.tri[3 * f + k]].push(f);
    // A vertex on an open edge (an edge with one face) has one more neighbour than faces; it is locked
    // like the fixed ones.
    const { start, neighbours } = vertexAdjacency(n, mesh.triangles);
    this.start = start;
    this.adjacent = neighbours;
    this.locked = Uint8Array.from(fixed);
    for (let v = 0; v < n; v++) if (start[v + 1] - start[v] !== this.faces[v].length) this.locked[v] = 1;
    this.Q = planeQuadrics(this.pos, this.tri, n);
    this.stamp = new Uint32Array(n);
    this.removed = new Uint8Array(n);
    this.mark = new Uint32Array(n);
  }

  queueEveryEdge(): void {
    const n = this.faces.length;
    for (let v = 0; v < n; v++) for (let j = this.start[v]; j < this.start[v + 1]; j++) if (this.adjacent[j] > v) this.push(v, this.adjacent[j]);
  }

  /** Collapses the cheapest valid edge until the target or the error bound is reached. */
  run(limits: SimplifyLimits): void {
    const { stamp, removed, heap, target } = this;
    while (heap.size > 0 && this.triangles > limits.targetTriangles) {
      const cost = heap.peekCost();
      const id = heap.pop();
      const u = this.cu[id],
        v = this.cv[id];
      if (removed[u] || removed[v] || stamp[u] !== this.su[id] || stamp[v] !== this.sv[id]) continue;
      if (cost > limits.maxError) break;
      target[0] = this.place[3 * id];
      target[1] = this.place[3 * id + 1];
      target[2] = this.place[3 * id + 2];
      if (!this.collapsible(u, v, target)) continue;
      this.collapse(u, v, target);
    }
  }

  result(): IndexedMesh {
    return compact(this.pos, this.tri, this.faceAlive);
  }

  private push(u: number, v: number): void {
    if (this.locked[u] && this.locked[v]) return;
    const cost = this.collapseTarget(u, v, this.target);
    if (this.candidates === this.cu.length) this.growCandidates();
    const id = this.candidates++;
    this.cu[id] = u;
    this.cv[id] = v;
    this.su[id] = this.stamp[u];
    this.sv[id] = this.stamp[v];
    this.place[3 * id] = this.target[0];
    this.place[3 * id + 1] = this.target[1];
    this.place[3 * id + 2] = this.target[2];
    this.heap.push(cost, id);
  }

  private growCandidates(): void {
    const more = <T extends Int32Array | Uint32Array | Float64Array>(a: T): T => grown(a, 2 * a.length);
    this.cu = more(this.cu);
    this.cv = more(this.cv);
    this.su = more(this.su);
    this.sv = more(this.sv);
    this.place = more(this.place);
  }

  /** Where the merged vertex goes (into `out`) and the quadric error there. */
  private collapseTarget(u: number, v: number, out: Float64Array): number {
    const { q, Q, pos, locked } = this;
    for (let j = 0; j < 10; j++) q[j] = Q[10 * u + j] + Q[10 * v + j];
    if (locked[u] || locked[v]) {
      const k = locked[u] ? u : v;
      out[0] = pos[3 * k];
      out[1] = pos[3 * k + 1];
      out[2] = pos[3 * k + 2];
      return Math.max(0, quadricError(q, 0, out[0], out[1], out[2]));
    }
    // The quadric's minimum, when well conditioned and near the edge; else the best of ends and midpoint.
    const a = q[0],
      b = q[1],
      c = q[2],
      d = q[3],
      e = q[4],
      f = q[5],
      g = q[6],
      h = q[7],
      i = q[8];
    const det = a * (e * h - f * f) - b * (b * h - f * c) + c * (b * f - e * c);
    const mx = (pos[3 * u] + pos[3 * v]) / 2,
      my = (pos[3 * u + 1] + pos[3 * v + 1]) / 2,
      mz = (pos[3 * u + 2] + pos[3 * v + 2]) / 2;
    const ex = pos[3 * u] - pos[3 * v],
      ey = pos[3 * u + 1] - pos[3 * v + 1],
      ez = pos[3 * u + 2] - pos[3 * v + 2];
    const edge2 = ex * ex + ey * ey + ez * ez;
    if (Math.abs(det) > 1e-9 * Math.max(1e-30, (a + e + h) ** 3)) {
      const x = -(d * (e * h - f * f) - b * (g * h - f * i) + c * (g * f - e * i)) / det;
      const y = -(a * (g * h - i * f) - d * (b * h - f * c) + c * (b * i - g * c)) / det;
      const z = -(a * (e * i - f * g) - b * (b * i - g * c) + d * (b * f - e * c)) / det;
      if ((x - mx) ** 2 + (y - my) ** 2 + (z - mz) ** 2 <= edge2 && this.inside(x, y, z)) {
        out[0] = x;
        out[1] = y;
        out[2] = z;
        return Math.max(0, quadricError(q, 0, x, y, z));
      }
    }
    // The best of u, v and the midpoint, in that order (ties to the first).
    const eu = quadricError(q, 0, pos[3 * u], pos[3 * u + 1], pos[3 * u + 2]),
      ev = quadricError(q, 0, pos[3 * v], pos[3 * v + 1], pos[3 * v + 2]),
      em = quadricError(q, 0, mx, my, mz);
    let best = Infinity;
    if (eu < best) {
      best = eu;
      out[0] = pos[3 * u];
      out[1] = pos[3 * u + 1];
      out[2] = pos[3 * u + 2];
    }
    if (ev < best) {
      best = ev;
      out[0] = pos[3 * v];
      out[1] = pos[3 * v + 1];
      out[2] = pos[3 * v + 2];
    }
    if (em < best) {
      best = em;
      out[0] = mx;
      out[1] = my;
      out[2] = mz;
    }
    return Math.max(0, best);
  }

  /** Whether a merged vertex may go here: anywhere, or inside the box (the ends and midpoint always are). */
  private inside(x: number, y: number, z: number): boolean {
    const w = this.within;
    return !w || (x >= w.lo[0] && x <= w.hi[0] && y >= w.lo[1] && y <= w.hi[1] && z >= w.lo[2] && z <= w.hi[2]);
  }

  private neighbours(v: number): number[] {
    const { tri, mark } = this;
    const seen = ++this.stamp0,
      out: number[] = [];
    for (const f of this.faces[v])
      for (let k = 0; k < 3; k++) {
        const w = tri[3 * f + k];
        if (w !== v && mark[w] !== seen) {
          mark[w] = seen;
          out.push(w);
        }
      }
    return out;
  }

  private hasVertex(f: number, v: number): boolean {
    const { tri } = this;
    return tri[3 * f] === v || tri[3 * f + 1] === v || tri[3 * f + 2] === v;
  }

  /** May u and v merge at `to` without tearing or folding the surface? */
  private collapsible(u: number, v: number, to: Float64Array): boolean {
    const { faces, tri, mark, pos, before, after } = this;
    let s0 = -1,
      s1 = -1,
      shared = 0;
    for (const f of faces[u])
      if (this.hasVertex(f, v)) {
        if (shared++ === 0) s0 = f;
        else s1 = f;
      }
    if (shared !== 2) return false;
    // Link condition: u and v share exactly the two neighbours opposite the edge.
    const ofV = ++this.stamp0;
    for (const f of faces[v]) for (let k = 0; k < 3; k++) mark[tri[3 * f + k]] = ofV;
    const counted = ++this.stamp0;
    let common = 0;
    for (const f of faces[u])
      for (let k = 0; k < 3; k++) {
        const w = tri[3 * f + k];
        if (w !== u && w !== v && mark[w] === ofV) {
          mark[w] = counted;
          common++;
        }
      }
    if (common !== 2) return false;
    for (const f of [s0, s1])
      for (let k = 0; k < 3; k++) {
        const w = tri[3 * f + k];
        if (w !== u && w !== v && faces[w].length <= 3) return false;
      }
    for (const end of [u, v])
      for (const f of faces[end]) {
        if (f === s0 || f === s1) continue;
        const a = tri[3 * f],
          b = tri[3 * f + 1],
          c = tri[3 * f + 2];
        const hadBefore = faceNormal(pos, a, b, c, before);
        if (!faceNormalMoved(pos, a, b, c, end, to, after)) return false;
        if (hadBefore && dot(before, after) <= 0.2 * length(before) * length(after)) return false;
      }
    return true;
  }

  /** Merges u and v at `to` (a locked end keeps its place), and queues the kept vertex's edges anew. */
  private collapse(u: number, v: number, to: Float64Array): void {
    const { faces, tri, pos, Q } = this;
    const [keep, gone] = this.locked[v] ? [v, u] : [u, v];
    pos[3 * keep] = to[0];
    pos[3 * keep + 1] = to[1];
    pos[3 * keep + 2] = to[2];
    for (const f of faces[gone]) {
      const o = 3 * f;
      if (this.hasVertex(f, keep)) {
        this.faceAlive[f] = 0;
        this.triangles--;
        for (let k = 0; k < 3; k++) {
          const w = tri[o + k];
          if (w !== gone) removeFace(faces[w], f);
        }
      } else {
        for (let k = 0; k < 3; k++) if (tri[o + k] === gone) tri[o + k] = keep;
        faces[keep].push(f);
      }
    }
    faces[gone] = [];
    this.removed[gone] = 1;
    for (let j = 0; j < 10; j++) Q[10 * keep + j] += Q[10 * gone + j];
    this.stamp[keep]++;
    for (const w of this.neighbours(keep)) this.push(keep, w);
  }
}

/** Per vertex, the sum of the squared-distance quadrics of its faces' planes. */
function planeQuadrics(pos: Float64Array, tri: Int32Array, n: number): Float64Array {
  const Q = new Float64Array(10 * n);
  const normal = new Float64Array(3);
  for (let f = 0; f < tri.length / 3; f++) {
    if (!faceNormal(pos, tri[3 * f], tri[3 * f + 1], tri[3 * f + 2], normal)) continue;
    const a = normal[0],
      b = normal[1],
      c = normal[2];
    const len = Math.sqrt(a * a + b * b + c * c);
    const na = a / len,
      nb = b / len,
      nc = c / len;
    const v0 = tri[3 * f];
    const d = -(na * pos[3 * v0] + nb * pos[3 * v0 + 1] + nc * pos[3 * v0 + 2]);
    const plane = [na * na, na * nb, na * nc, na * d, nb * nb, nb * nc, nb * d, nc * nc, nc * d, d * d];
    for (let k = 0; k < 3; k++) {
      const o = 10 * tri[3 * f + k];
      for (let j = 0; j < 10; j++) Q[o + j] += plane[j];
    }
  }
  return Q;
}

const length = (a: Float64Array) => Math.sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);

/** Removes `f` from a vertex's face list (order does not matter). */
function removeFace(list: number[], f: number): void {
  const i = list.indexOf(f);
  list[i] = list[list.length - 1];
  list.pop();
}

function dot(a: Float64Array, b: Float64Array): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/** Unnormalised normal of triangle (a, b, c); false when it has no area. */
function faceNormal(p: Float64Array, a: number, b: number, c: number, out: Float64Array): boolean {
  return crossOf(p[3 * a], p[3 * a + 1], p[3 * a + 2], p[3 * b], p[3 * b + 1], p[3 * b + 2], p[3 * c], p[3 * c + 1], p[3 * c + 2], out);
}

/** The same with vertex `moved` placed at `to`. */
function faceNormalMoved(p: Float64Array, a: number, b: number, c: number, moved: number, to: Float64Array, out: Float64Array): boolean {
  const at = (v: number, k: number) => (v === moved ? to[k] : p[3 * v + k]);
  return crossOf(at(a, 0), at(a, 1), at(a, 2), at(b, 0), at(b, 1), at(b, 2), at(c, 0), at(c, 1), at(c, 2), out);
}

function crossOf(ax: number, ay: number, az: number, bx: number, by: number, bz: number, cx: number, cy: number, cz: number, out: Float64Array): boolean {
  const ux = bx - ax,
    uy = by - ay,
    uz = bz - az,
    vx = cx - ax,
    vy = cy - ay,
    vz = cz - az;
  out[0] = uy * vz - uz * vy;
  out[1] = uz * vx - ux * vz;
  out[2] = ux * vy - uy * vx;
  return out[0] !== 0 || out[1] !== 0 || out[2] !== 0;
}

/** The live faces, with vertices renumbered in their old order. */
function compact(pos: Float64Array, tri: Int32Array, alive: Uint8Array): IndexedMesh {
  const n = pos.length / 3;
  const index = new Int32Array(n).fill(-1);
  for (let f = 0; f < alive.length; f++) if (alive[f]) for (let k = 0; k < 3; k++) index[tri[3 * f + k]] = 0;
  let next = 0;
  for (let v = 0; v < n; v++) if (index[v] === 0) index[v] = next++;
  const positions = new Float32Array(3 * next);
  for (let v = 0; v < n; v++) if (index[v] >= 0) positions.set(pos.subarray(3 * v, 3 * v + 3), 3 * index[v]);
  const live = alive.reduce((s, a) => s + a, 0);
  const triangles = new Uint32Array(3 * live);
  let t = 0;
  for (let f = 0; f < alive.length; f++) if (alive[f]) for (let k = 0; k < 3; k++) triangles[t++] = index[tri[3 * f + k]];
  return { positions, triangles };
}
