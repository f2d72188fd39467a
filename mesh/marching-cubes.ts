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

export function emitTriangles(scan: MarchingCubesScan, shape: Vec3): IndexedMesh {
  const [sx, sy, sz] = shape;
  const [cx, cy, cz] = scan.cubes;
  const total = scan.offsets[scan.cases.length];
  const triangles = new Uint32Array(3 * total);
  // Vertex of each grid edge (3 per grid point, by axis), -1 until a cube crosses it: typed arrays,
  // not a Map, as this loop is most of meshing's time.
  const vertexOfEdge = new Int32Array(3 * sx * sy * sz).fill(-1);
  const positions = new Float32Array(9 * total); // at most three new vertices a triangle
  let t = 0,
    i = 0,
    n = 0;
  for (let z = 0; z < cz; z++)
    for (let y = 0; y < cy; y++)
      for (let x = 0; x < cx; x++, i++) {
        const edges = CASE_TRIANGLES[scan.cases[i]];
        for (let k = 0; k < edges.length; k++) {
          const { offset, axis } = EDGE_ORIGIN[edges[k]];
          const px = x + offset[0],
            py = y + offset[1],
            pz = z + offset[2];
          const id = 3 * (px + sx * (py + sy * pz)) + axis;
          let v = vertexOfEdge[id];
          if (v < 0) {
            v = vertexOfEdge[id] = n++;
            positions[3 * v] = px + (axis === 0 ? 0.5 : 0);
            positions[3 * v + 1] = py + (axis === 1 ? 0.5 : 0);
            positions[3 * v + 2] = pz + (axis === 2 ? 0.5 : 0);
          }
          triangles[t++] = v;
        }
      }
  return { positions: positions.slice(0, 3 * n), triangles };
}
