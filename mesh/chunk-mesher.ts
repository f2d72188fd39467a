// Meshes every label of one segmentation chunk so that the fragments of neighbouring chunks meet
// exactly: no gap, no double wall.
//
// Cubes (2x2x2 voxel cells, named by their lower corner) are split between chunks: the chunk [s, e)
// owns the cubes [s, e) per axis, and the first chunk along an axis also the layer s-1. The volume is
// zero-padded by one voxel on each side (layers start-1 and stop), so surfaces at its border close
// with caps. Every cube then belongs to exactly one chunk. A chunk reads its voxels plus one voxel
// into its upper neighbours (8 chunks in all; the seed read two, but cube e-1 needs only voxel e).
// Vertices on the plane between two chunks' cubes (voxel plane s or e along that axis) appear in both
// fragments; smoothing and simplification never move them, so both fragments keep the same boundary.
import { Kernels, kernels } from '../kernels/backend.js';
import { labelOfId, renumberLabels } from '../kernels/renumber.js';
import { box, Box, shapeOf, Vec3 } from '../common/box.js';
import { emitTriangles, IndexedMesh } from './marching-cubes.js';
import { simplificationLimits, simplifyMesh } from './simplify.js';
import { FREE, PINNED, SLIDE_X, taubinSmooth } from './smooth.js';

export interface MeshRegion {
  /** Voxels the owned cubes touch, to read (zero outside the volume). */
  readBox: Box;
  /** Lower corners of the cubes this chunk meshes. */
  ownedCubes: Box;
  /** Per axis, the voxel planes shared with a neighbouring chunk's cubes. */
  sharedPlanes: [number[], number[], number[]];
}

export function meshRegion(chunk: Box, bounds: Box): MeshRegion {
  const ownedCubes = box(chunk.start.map((s, i) => (s === bounds.start[i] ? s - 1 : s)) as Vec3, chunk.stop);
  const readBox = box(ownedCubes.start, chunk.stop.map((e) => e + 1) as Vec3);
  const sharedPlanes = [0, 1, 2].map((i) => [
    ...(chunk.start[i] > bounds.start[i] ? [chunk.start[i]] : []),
    ...(chunk.stop[i] < bounds.stop[i] ? [chunk.stop[i]] : []),
  ]) as MeshRegion['sharedPlanes'];
  return { readBox, ownedCubes, sharedPlanes };
}

/**
 * The cubes of lod 0 node `cell` of a multi-resolution mesh (mesh/multires.ts) with nodes of `size`
 * voxels: per axis the cubes whose lower corner lies in [S - 1 + k size, S - 1 + (k + 1) size) and in
 * [S - 1, E) (the volume [S, E) padded by one voxel). Null when the node has no cube. Its faces inside
 * the padded volume are shared planes, as chunk faces are for the legacy mesh.
 */
export function nodeRegion(cell: Vec3, size: Vec3, bounds: Box): MeshRegion | null {
  const start = cell.map((k, d) => bounds.start[d] - 1 + k * size[d]) as Vec3;
  const stop = cell.map((k, d) => Math.min(bounds.start[d] - 1 + (k + 1) * size[d], bounds.stop[d])) as Vec3;
  if (start.some((s, d) => s >= stop[d])) return null;
  const sharedPlanes = [0, 1, 2].map((d) => [
    ...(start[d] > bounds.start[d] - 1 ? [start[d]] : []),
    ...(stop[d] < bounds.stop[d] ? [stop[d]] : []),
  ]) as MeshRegion['sharedPlanes'];
  return { readBox: box(start, stop.map((e) => e + 1) as Vec3), ownedCubes: box(start, stop), sharedPlanes };
}

/** Lod 0 nodes per axis of a volume's multi-resolution mesh: its padded cubes [S - 1, E) in nodes of `size`. */
export function nodeGrid(size: Vec3, bounds: Box): Vec3 {
  return size.map((c, d) => Math.ceil((bounds.stop[d] - bounds.start[d] + 1) / c)) as Vec3;
}

export interface ChunkMeshInput {
  /** Labels of region.readBox, x fastest. */
  labels: Uint32Array | BigUint64Array;
  region: MeshRegion;
  /** nm per voxel: vertices come out in nm, voxel v's centre at (v + 0.5) * resolution. */
  resolution: Vec3;
  /** 0..10, see mesh/simplify.ts. */
  simplification: number;
  /** False: the marching-cubes surface unsmoothed, vertices on grid-edge midpoints (as zmesh's). */
  smoothing?: boolean;
  /** Only these labels; all non-zero labels when absent. */
  segments?: Set<bigint>;
  /** The marching-cubes scan's kernels; this thread's (kernels()) when absent. */
  kernels?: Kernels;
}

export interface LabelMesh {
  label: bigint;
  mesh: IndexedMesh;
}

/** One mesh per label that has any surface in the owned cubes, in increasing label order. */
export async function meshChunk(input: ChunkMeshInput): Promise<LabelMesh[]> {
  const { readBox, ownedCubes, sharedPlanes } = input.region;
  const scanKernels = input.kernels ?? (await kernels());
  const shape = shapeOf(readBox);
  const [sx, sy] = shape;
  const table = renumberLabels(input.labels);
  const { ids } = table;
  const count = table.labels.length / table.wordsPerLabel;

  // Voxels the owned cubes touch, in readBox coordinates, and each label's bounding box within them.
  const lo = ownedCubes.start.map((v, i) => v - readBox.start[i]);
  const hi = ownedCubes.stop.map((v, i) => v + 1 - readBox.start[i]);
  const bbox = new Int32Array(6 * count);
  for (let id = 0; id < count; id++) bbox.set([shape[0], shape[1], shape[2], -1, -1, -1], 6 * id);
  for (let z = lo[2]; z < hi[2]; z++)
    for (let y = lo[1]; y < hi[1]; y++) {
      let i = lo[0] + sx * (y + sy * z);
      for (let x = lo[0]; x < hi[0]; x++, i++) {
        const o = 6 * ids[i];
        if (x < bbox[o]) bbox[o] = x;
        if (x > bbox[o + 3]) bbox[o + 3] = x;
        if (y < bbox[o + 1]) bbox[o + 1] = y;
        if (y > bbox[o + 4]) bbox[o + 4] = y;
        if (z < bbox[o + 2]) bbox[o + 2] = z;
        if (z > bbox[o + 5]) bbox[o + 5] = z;
      }
    }

  const out: LabelMesh[] = [];
  for (let id = 1; id < count; id++) {
    if (bbox[6 * id + 3] < 0) continue;
    const label = labelOfId(table, id);
    if (input.segments && !input.segments.has(label)) continue;
    // The label's box grown by one voxel (where its surface lies), within the owned cubes' voxels.
    const start = [0, 1, 2].map((a) => Math.max(bbox[6 * id + a] - 1, lo[a])) as Vec3;
    const stop = [0, 1, 2].map((a) => Math.min(bbox[6 * id + 3 + a] + 2, hi[a])) as Vec3;
    const mshape = stop.map((v, a) => v - start[a]) as Vec3;
    const mask = new Uint8Array(mshape[0] * mshape[1] * mshape[2]);
    let m = 0;
    for (let z = start[2]; z < stop[2]; z++)
      for (let y = start[1]; y < stop[1]; y++) {
        let i = start[0] + sx * (y + sy * z);
        for (let x = start[0]; x < stop[0]; x++, i++, m++) mask[m] = ids[i] === id ? 1 : 0;
      }
    const raw = emitTriangles(await scanKernels.marchingCubesScan(mask, mshape), mshape);
    if (raw.triangles.length === 0) continue;
    const origin = start.map((v, a) => v + readBox.start[a]) as Vec3; // global voxel of local (0, 0, 0)
    const positions = raw.positions;
    for (let i = 0; i < positions.length; i += 3) {
      // exact: voxel halves
      positions[i] += origin[0];
      positions[i + 1] += origin[1];
      positions[i + 2] += origin[2];
    }
    const pins = sharedVertices(positions, sharedPlanes);
    const surface = { positions, triangles: raw.triangles };
    const smooth = input.smoothing === false ? surface : taubinSmooth(surface, pins); // same vertices, so `pins` still applies
    const simple = input.simplification > 0 ? simplifyMesh(smooth, pins, simplificationLimits(input.simplification, smooth.triangles.length / 3)) : smooth;
    out.push({ label, mesh: { positions: toNanometres(simple.positions, input.resolution), triangles: simple.triangles } });
  }
  return out;
}

/** How each vertex may move (mesh/smooth.ts): on one shared plane it slides in it, on two it is pinned. */
function sharedVertices(positions: Float32Array, planes: MeshRegion['sharedPlanes']): Uint8Array {
  const pins = new Uint8Array(positions.length / 3);
  if (planes.every((p) => p.length === 0)) return pins;
  for (let v = 0; v < pins.length; v++) {
    for (let a = 0; a < 3; a++) if (planes[a].includes(positions[3 * v + a])) pins[v] = pins[v] === FREE ? SLIDE_X + a : PINNED;
  }
  return pins;
}

function toNanometres(voxels: Float32Array, resolution: Vec3): Float32Array {
  const out = new Float32Array(voxels.length);
  for (let i = 0; i < voxels.length; i++) out[i] = (voxels[i] + 0.5) * resolution[i % 3];
  return out;
}
