// Triangles from a marching-cubes scan (kernels/*marching-cubes-scan.ts): one vertex per crossed grid
// edge, at its midpoint, shared by every cube that touches the edge, so the mesh is indexed and its
// connectivity can be checked (closed, manifold) and simplified.
import { Vec3 } from '../common/box.js';
import { CASE_TRIANGLES, CORNERS, EDGE_CORNERS } from '../kernels/marching-cubes-table.js';
import { MarchingCubesScan } from '../kernels/marching-cubes-scan.js';

export interface IndexedMesh {
  /** x, y, z per vertex, in voxel units of the scanned grid (voxel centres at integers). */
  positions: Float32Array;
  /** Three vertex indices per triangle, counterclockwise seen from outside. */
  triangles: Uint32Array;
}

// Per cube edge: the offset of its lower corner and the axis it runs along.
const EDGE_ORIGIN = EDGE_CORNERS.map(([a, b]) => {
  const p = CORNERS[a],
    q = CORNERS[b];
  const axis = p.findIndex((v, i) => v !== q[i]);
  return { offset: p.map((v, i) => Math.min(v, q[i])) as unknown as Vec3, axis };
});
/** Per cube edge, its midpoint's offset from the cube's corner 0, by axis. */
const EDGE_MIDPOINT = [0, 1, 2].map((d) => Float32Array.from(EDGE_ORIGIN, ({ offset, axis }) => offset[d] + (axis === d ? 0.5 : 0)));
/** Every case's triangles (as cube edges) in one array: case c's are CASE_EDGES[CASE_START[c] .. CASE_START[c + 1]). */
const CASE_EDGES = Uint8Array.from(CASE_TRIANGLES.flat());
const CASE_START = Uint32Array.from({ length: 257 }, (_, c) => CASE_TRIANGLES.slice(0, c).reduce((n, t) => n + t.length, 0));

export function emitTriangles(scan: MarchingCubesScan, shape: Vec3): IndexedMesh {
  const [sx, sy, sz] = shape;
  const [cx, cy, cz] = scan.cubes;
  const total = scan.offsets[scan.cases.length];
  const triangles = new Uint32Array(3 * total);
  // Per grid point and axis, 1 + the vertex on that grid edge, 0 until a cube crosses it: typed
  // arrays, not a Map, as this loop is most of meshing's time (0 for none: no fill pass).
  const vertexOfEdge = new Int32Array(3 * sx * sy * sz);
  // A cube edge's grid edge: the cube's corner 0's grid edges + this.
  const edgeDelta = Int32Array.from(EDGE_ORIGIN, ({ offset, axis }) => 3 * (offset[0] + sx * (offset[1] + sy * offset[2])) + axis);
  const [mx, my, mz] = EDGE_MIDPOINT;
  const positions = new Float32Array(9 * total); // at most three new vertices a triangle
  const cases = scan.cases;
  let t = 0,
    i = 0,
    n = 0;
  for (let z = 0; z < cz; z++)
    for (let y = 0; y < cy; y++) {
      let base = 3 * sx * (y + sy * z);
      for (let x = 0; x < cx; x++, i++, base += 3) {
        const c = cases[i];
        const end = CASE_START[c + 1];
        for (let k = CASE_START[c]; k < end; k++) {
          const edge = CASE_EDGES[k];
          const id = base + edgeDelta[edge];
          let v = vertexOfEdge[id] - 1;
          if (v < 0) {
            v = n++;
            vertexOfEdge[id] = n;
            positions[3 * v] = x + mx[edge];
            positions[3 * v + 1] = y + my[edge];
            positions[3 * v + 2] = z + mz[edge];
          }
          triangles[t++] = v;
        }
      }
    }
  return { positions: positions.slice(0, 3 * n), triangles };
}
