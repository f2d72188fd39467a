// Taubin (lambda|mu) smoothing: alternating shrink and inflate steps of the umbrella Laplacian, which
// smooths the staircase of a voxel surface without the shrinkage of plain Laplacian smoothing.
// Marching cubes on voxels puts every vertex on a grid-edge midpoint, so a voxelized sphere's area
// comes out about 8.5% too large; smoothing brings it close to the true surface.
//
// Vertices on a plane shared with a neighbouring chunk's fragment (SLIDE_X/Y/Z) keep their coordinate
// across the plane and move within it, smoothed along the surface's contour in the plane only: that
// contour and its positions are the same in both fragments, and each contour vertex has exactly two
// contour neighbours, whose sum is the same whatever their order, so both fragments compute the same
// floats and still meet exactly. Without this, the unsmoothed staircase on every chunk face left a
// sphere meshed in 32^3 chunks 1.6% too large, against 1% meshed whole (at 10 iterations). PINNED
// vertices (on two planes, or with a contour that is not a simple path) do not move.
import { IndexedMesh } from './marching-cubes.js';
import { vertexAdjacency } from './topology.js';
import { SmoothingInput, taubinSmoothInMemory, wasmKernels } from '../wasm/kernels.js';

// 16 iterations, not the 10 of before: a voxelized sphere meshed whole comes out 0.66% too large (1.0%
// at 10), meshed in 32^3 chunks 0.93% (1.34%), at the cost of thinning a one-voxel tube to 43% of its
// marching-cubes radius (59% at 10); an isolated voxel shrinks to a dot either way.
export const TAUBIN = { lambda: 0.5, mu: -0.53, iterations: 16 };

// A contour vertex's full neighbourhood also has vertices on both sides of its plane, which neither
// fragment sees whole. Where the surface crosses the plane at right angles (a neurite through a chunk
// face), they lie straight across from it and add nothing within the plane but weight: in the umbrella
// of a vertex of valence ~4 its two contour neighbours pull half as hard as they would alone. At full
// weight a one-voxel neurite's four-vertex contour shrank to a point (0.77 a step against the tube's
// 0.95 elsewhere): the neurite pinched at every chunk face, and quantization collapsed the pinch.
const CONTOUR_WEIGHT = 0.5;

export const FREE = 0,
  PINNED = 1,
  SLIDE_X = 2,
  SLIDE_Y = 3,
  SLIDE_Z = 4;

/**
 * `mesh` smoothed, vertex v moving as `pins[v]` says. Positions must be in the coordinates both
 * fragments share (global voxels), so that sliding vertices round alike in each.
 */
export function taubinSmooth(mesh: IndexedMesh, pins: Uint8Array, opts = TAUBIN): IndexedMesh {
  const n = mesh.positions.length / 3;
  const { start, neighbours } = vertexAdjacency(n, mesh.triangles);
  const contour = contourNeighbours(mesh.positions, pins, start, neighbours);
  const positions = Float64Array.from(mesh.positions);
  const input = { positions, pins, start, neighbours, contour, ...opts, contourWeight: CONTOUR_WEIGHT };
  const w = useWasm ? wasmKernels() : null;
  if (w) taubinSmoothInMemory(w, input);
  else smoothInJs(input);
  return { positions: Float32Array.from(positions), triangles: mesh.triangles };
}

let useWasm = true;
/** For tests: smooth with the plain loop below (false) or in WebAssembly where it loads (true, the default). */
export function smoothInWebAssembly(on: boolean): void {
  useWasm = on;
}

/** The steps in plain JS: the reference the WebAssembly loop (assembly/smooth.ts) is held to, bit for bit. */
function smoothInJs(m: SmoothingInput): void {
  let p: Float64Array = m.positions;
  let q: Float64Array = new Float64Array(p.length);
  const step = (factor: number) => {
    umbrellaStep(p, q, factor, m.contourWeight, m.pins, m.start, m.neighbours, m.contour);
    [p, q] = [q, p];
  };
  for (let i = 0; i < m.iterations; i++) {
    step(m.lambda);
    step(m.mu);
  }
  // An even number of steps: the result is in m.positions again.
}

/** One Laplacian step from p into q (a plain function over typed arrays: the hot loop of meshing). */
function umbrellaStep(
  p: Float64Array,
  q: Float64Array,
  factor: number,
  contourWeight: number,
  pins: Uint8Array,
  start: Uint32Array,
  neighbours: Uint32Array,
  contour: Uint32Array,
): void {
  const n = pins.length;
  for (let v = 0; v < n; v++) {
    const pin = pins[v],
      o = 3 * v;
    const px = p[o],
      py = p[o + 1],
      pz = p[o + 2];
    if (pin === FREE) {
      const s = start[v],
        e = start[v + 1];
      if (e === s) {
        q[o] = px;
        q[o + 1] = py;
        q[o + 2] = pz;
        continue;
      }
      let x = 0,
        y = 0,
        z = 0;
      for (let j = s; j < e; j++) {
        const u = 3 * neighbours[j];
        x += p[u];
        y += p[u + 1];
        z += p[u + 2];
      }
      const k = 1 / (e - s);
      q[o] = px + factor * (x * k - px);
      q[o + 1] = py + factor * (y * k - py);
      q[o + 2] = pz + factor * (z * k - pz);
    } else if (pin === PINNED) {
      q[o] = px;
      q[o + 1] = py;
      q[o + 2] = pz;
    } else {
      const a = 3 * contour[2 * v],
        b = 3 * contour[2 * v + 1],
        across = pin - SLIDE_X,
        w = factor * contourWeight;
      q[o] = across === 0 ? px : px + w * ((p[a] + p[b]) * 0.5 - px);
      q[o + 1] = across === 1 ? py : py + w * ((p[a + 1] + p[b + 1]) * 0.5 - py);
      q[o + 2] = across === 2 ? pz : pz + w * ((p[a + 2] + p[b + 2]) * 0.5 - pz);
    }
  }
}

/**
 * Per sliding vertex its two neighbours on its plane (vertices that are not FREE, with the same
 * coordinate across it). A sliding vertex with any other count is pinned in `pins` instead.
 */
function contourNeighbours(positions: Float32Array, pins: Uint8Array, start: Uint32Array, neighbours: Uint32Array): Uint32Array {
  const contour = new Uint32Array(2 * pins.length);
  for (let v = 0; v < pins.length; v++) {
    if (pins[v] < SLIDE_X) continue;
    const d = pins[v] - SLIDE_X;
    let count = 0;
    for (let j = start[v]; j < start[v + 1]; j++) {
      const u = neighbours[j];
      if (pins[u] === FREE || positions[3 * u + d] !== positions[3 * v + d]) continue;
      if (count < 2) contour[2 * v + count] = u;
      count++;
    }
    if (count !== 2) pins[v] = PINNED;
  }
  return contour;
}
