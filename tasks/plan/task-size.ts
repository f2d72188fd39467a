// How big a task of each kind may be: a box of whole chunks, the largest cube of them (clipped to
// the grid) whose task fits `memory` by the kind's measured cost. The figures are peak RSS of one
// task in a fresh process (bench/task-memory.ts, bench/multires-mesh.ts) over the voxels it holds at
// once: a watershed its grown box, a mean graph one z layer of chunks (and the plane below), the
// others their box (and the one-voxel padding meshes read).
import { Vec3 } from '../../common/box.js';

export interface TaskCost {
  /** Bytes of peak memory per voxel held at once. */
  bytesPerVoxel: number;
  /** Bytes of the process before any voxel: Node, the kernels, the clients. */
  baseBytes: number;
  /** The voxels a task of box extent `extent` holds at once (its padding, its layering). */
  held(extent: Vec3, chunk: Vec3): number;
}

const cells = (v: Vec3) => v[0] * v[1] * v[2];
/** Bytes of a task's process before any voxel: Node, the kernels, the clients (every kind's peak adds it). */
export const PROCESS_BYTES = 100 * 2 ** 20;
const BASE = PROCESS_BYTES;

/** Skeletonize's peak bytes a voxel, one label filling the box: 85 measured at 128^3, 69 at 256^3 (64^3 chunks). */
const BYTES_SKELETON = 90;

export const TASK_COSTS = {
  /**
   * Marching cubes, smoothing and the fragments of every segment of the box: 1,454 MiB for 384^3 of
   * the demo generator's cells, 1,156 MiB for 320^3 of an agglomerated watershed (32 bytes a voxel).
   */
  mesh: { bytesPerVoxel: 34, baseBytes: BASE, held: (e: Vec3) => cells(e.map((s) => s + 1) as Vec3) },
  /** The float32 affinities (3 channels), their raw chunks, the watershed's labels and queue: 677 MiB for 200^3. */
  watershed: { bytesPerVoxel: 76, baseBytes: BASE, held: (e: Vec3) => cells(e) },
  /** One z layer of chunks and the plane below: labels, affinities, their chunks, the pair table; 2,163 MiB for 512x512x129. */
  mean_graph: { bytesPerVoxel: 64, baseBytes: BASE, held: (e: Vec3, c: Vec3) => (e[0] + 1) * (e[1] + 1) * (c[2] + 1) },
  /** uint64 labels in and out, their encoded chunks, the box's mapping: 272 MiB for 256^3 (10 bytes a voxel; 16 allows for large mappings). */
  remap: { bytesPerVoxel: 16, baseBytes: BASE, held: (e: Vec3) => cells(e) },
  /**
   * The box's labels, their distance field, and per piece of a label its voxels' paths (three
   * shortest-path trees, the penalty field, coverage): one label through the whole box is the worst
   * case.
   */
  skeletonize: { bytesPerVoxel: BYTES_SKELETON, baseBytes: BASE, held: (e: Vec3) => cells(e.map((s) => s + 1) as Vec3) },
} satisfies Record<string, TaskCost>;

/**
 * The largest cube of whole chunks, `side` chunks a side clipped to `grid` per axis (at least one
 * chunk), whose task fits `memory`; `grow` voxels of context on every side count too.
 */
export function taskBlock(cost: TaskCost, chunk: Vec3, grid: Vec3, memory: number, grow = 0): { block: Vec3; bytes: number } {
  const extent = (side: number) => chunk.map((c, d) => Math.min(side, grid[d]) * c + 2 * grow) as Vec3;
  const bytes = (side: number) => cost.baseBytes + cost.bytesPerVoxel * cost.held(extent(side), chunk);
  const most = Math.max(...grid);
  let side = 1;
  while (side < most && bytes(side + 1) <= memory) side++;
  return { block: grid.map((g) => Math.min(side, g)) as Vec3, bytes: bytes(side) };
}
