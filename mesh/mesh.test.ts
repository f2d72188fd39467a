import { describe, expect, it } from 'vitest';
import { cpuKernels } from '../kernels/backend.js';
import { box, Box, Vec3 } from '../common/box.js';
import { gpuKernelsForTests } from '../test/gpu.js';
import { eulerCharacteristic, nonManifoldVertices, openEdges, surfaceArea } from '../test/mesh-check.js';
import { meshChunk, meshRegion } from './chunk-mesher.js';
import { MAX_SIMPLIFICATION } from './simplify.js';

/** Labels over `b` (global voxels) from a function of the global voxel coordinates. */
function labelsOver(b: Box, label: (x: number, y: number, z: number) => number): Uint32Array {
  const out: number[] = [];
  for (let z = b.start[2]; z < b.stop[2]; z++)
    for (let y = b.start[1]; y < b.stop[1]; y++) for (let x = b.start[0]; x < b.stop[0]; x++) out.push(label(x, y, z));
  return Uint32Array.from(out);
}

/** A ball of radius r (voxels) around a centre off the grid, so no symmetry hides errors. */
function ball(r: number, centre: Vec3) {
  return (x: number, y: number, z: number) => ((x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2 <= r * r ? 7 : 0);
}

/** Meshes a whole volume of `size` as one chunk (no shared planes). */
function meshWhole(size: Vec3, label: (x: number, y: number, z: number) => number, simplification = 0, kernels = cpuKernels) {
  const bounds = box([0, 0, 0], size);
  const region = meshRegion(bounds, bounds);
  return meshChunk({
    labels: labelsOver(region.readBox, (x, y, z) => (x < 0 || y < 0 || z < 0 || x >= size[0] || y >= size[1] || z >= size[2] ? 0 : label(x, y, z))),
    region,
    resolution: [1, 1, 1],
    simplification,
    kernels,
  });
}

describe('a sphere', () => {
  for (const r of [10, 20]) {
    it(`of radius ${r} meshes closed and manifold, with area within 2% of 4πr²`, async () => {
      const size: Vec3 = [2 * r + 6, 2 * r + 6, 2 * r + 6];
      const [only, ...rest] = await meshWhole(size, ball(r, [r + 2.6, r + 3.1, r + 2.8]));
      expect(rest).toEqual([]);
      expect(only.label).toBe(7n);
      expect(openEdges(only.mesh)).toBe(0);
      expect(nonManifoldVertices(only.mesh)).toBe(0);
      expect(eulerCharacteristic(only.mesh)).toBe(2);
      const error = surfaceArea(only.mesh) / (4 * Math.PI * r * r) - 1;
      expect(Math.abs(error)).toBeLessThan(0.02);
    });
  }

  it('loses triangles monotonically with the simplification level, staying closed and near the sphere', async () => {
    const r = 14,
      centre: Vec3 = [17.3, 16.8, 17.1];
    const counts: number[] = [];
    for (let level = 0; level <= MAX_SIMPLIFICATION; level++) {
      const [{ mesh }] = await meshWhole([36, 36, 36], ball(r, centre), level);
      counts.push(mesh.triangles.length / 3);
      expect(openEdges(mesh)).toBe(0);
      expect(nonManifoldVertices(mesh)).toBe(0);
      expect(eulerCharacteristic(mesh)).toBe(2);
      // Positions are voxel centres + 0.5 at resolution 1.
      for (let v = 0; v < mesh.positions.length; v += 3) {
        const d = Math.hypot(mesh.positions[v] - 0.5 - centre[0], mesh.positions[v + 1] - 0.5 - centre[1], mesh.positions[v + 2] - 0.5 - centre[2]);
        expect(Math.abs(d - r)).toBeLessThan(1.5);
      }
    }
    for (let level = 1; level <= MAX_SIMPLIFICATION; level++) expect(counts[level]).toBeLessThanOrEqual(counts[level - 1]);
    for (let level = 1; level <= 4; level++) expect(counts[level]).toBeLessThan(counts[level - 1]);
    expect(counts[MAX_SIMPLIFICATION]).toBeLessThan(counts[0] / 10);
  });
});

describe('ambiguous faces', () => {
  it('mesh closed and manifold where outside voxels touch diagonally, and on random voxels', async () => {
    const block = (holes: number[][]) => (x: number, y: number, z: number) =>
      x >= 1 && x < 7 && y >= 1 && y < 7 && z >= 1 && z < 7 && !holes.some((h) => h[0] === x && h[1] === y && h[2] === z) ? 7 : 0;
    const cases = [
      [
        [3, 3, 3],
        [4, 4, 3],
      ], // touching along a z edge: the face between them is ambiguous
      [
        [3, 3, 3],
        [3, 4, 4],
      ],
      [
        [3, 3, 3],
        [4, 3, 4],
      ],
      [
        [3, 3, 3],
        [4, 4, 4],
      ], // at a corner only
      [
        [2, 2, 2],
        [3, 3, 2],
        [4, 4, 2],
        [3, 2, 3],
      ],
    ];
    for (const holes of cases) {
      const meshes = await meshWhole([8, 8, 8], block(holes));
      for (const { mesh } of meshes) {
        expect(openEdges(mesh), `holes ${JSON.stringify(holes)}`).toBe(0);
        expect(nonManifoldVertices(mesh), `holes ${JSON.stringify(holes)}`).toBe(0);
      }
    }
    // Random voxels: every ambiguous face and cube configuration many times over.
    let seed = 12345;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const size: Vec3 = [14, 13, 12];
    const labels = new Uint8Array(size[0] * size[1] * size[2]).map(() => (random() < 0.5 ? 1 : 0));
    const meshes = await meshWhole(size, (x, y, z) => labels[x + size[0] * (y + size[1] * z)] * 5);
    expect(meshes.length).toBe(1);
    expect(openEdges(meshes[0].mesh)).toBe(0);
    expect(nonManifoldVertices(meshes[0].mesh)).toBe(0);
  });
});

describe('chunk meshing', () => {
  it('keeps the vertices on shared planes where marching cubes put them, through smoothing and simplification', async () => {
    const bounds = box([0, 0, 0], [40, 40, 40]);
    const chunk = box([0, 0, 0], [20, 40, 40]); // shares the plane x = 20 with its neighbour
    const region = meshRegion(chunk, bounds);
    expect(region.sharedPlanes).toEqual([[20], [], []]);
    const labels = labelsOver(region.readBox, (x, y, z) =>
      x < 0 || y < 0 || z < 0 || x >= 40 || y >= 40 || z >= 40 ? 0 : ball(12, [20.2, 19.7, 20.4])(x, y, z),
    );
    for (const simplification of [0, 6]) {
      const [{ mesh }] = await meshChunk({ labels, region, resolution: [1, 1, 1], simplification, kernels: cpuKernels });
      const onPlane = [];
      for (let v = 0; v < mesh.positions.length; v += 3)
        if (mesh.positions[v] === 20.5) onPlane.push([mesh.positions[v + 1] - 0.5, mesh.positions[v + 2] - 0.5]);
      // Every plane vertex is an edge midpoint: one coordinate integral, the other half-integral.
      expect(onPlane.length).toBeGreaterThan(20);
      for (const [y, z] of onPlane) expect(Number.isInteger(y) !== Number.isInteger(z)).toBe(true);
      // The open boundary of the fragment lies on the plane: as many open edges as plane vertices (a loop).
      expect(openEdges(mesh)).toBe(onPlane.length);
      // No vertex beyond the plane.
      for (let v = 0; v < mesh.positions.length; v += 3) expect(mesh.positions[v]).toBeLessThanOrEqual(20.5);
    }
  });

  it('meshes only the requested segments', async () => {
    const label = (x: number, y: number, z: number) => (x < 8 ? 1 : x < 16 ? 2 : 3) + (y > 20 && z > 20 ? 10 : 0);
    const all = (await meshWhole([24, 24, 24], label)).map((m) => m.label);
    expect(all).toEqual([1n, 2n, 3n, 11n, 12n, 13n]);
    const bounds = box([0, 0, 0], [24, 24, 24]);
    const region = meshRegion(bounds, bounds);
    const labels = labelsOver(region.readBox, (x, y, z) => (x < 0 || y < 0 || z < 0 || x >= 24 || y >= 24 || z >= 24 ? 0 : label(x, y, z)));
    const some = await meshChunk({ labels, region, resolution: [1, 1, 1], simplification: 0, segments: new Set([2n, 13n, 99n]), kernels: cpuKernels });
    expect(some.map((m) => m.label)).toEqual([2n, 13n]);
  });

  it('gives the same meshes with the gpu scan as with the cpu scan', async () => {
    const gpu = await gpuKernelsForTests();
    if (!gpu) return;
    const label = (x: number, y: number, z: number) => ((x * 7 + y * 3) % 23 < 9 ? 1 + (((x >> 3) + (z >> 3)) % 4) : 0);
    for (const simplification of [0, 3]) {
      const cpu = await meshWhole([30, 26, 21], label, simplification, cpuKernels);
      const onGpu = await meshWhole([30, 26, 21], label, simplification, gpu);
      expect(onGpu.length).toBe(cpu.length);
      onGpu.forEach((m, i) => {
        expect(m.label).toBe(cpu[i].label);
        expect(m.mesh.positions).toEqual(cpu[i].mesh.positions);
        expect(m.mesh.triangles).toEqual(cpu[i].mesh.triangles);
      });
    }
  });
});
