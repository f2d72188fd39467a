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

/** The length of a fragment's open boundary, its contour on the plane x = 20 (a voxel plane, 20.5 here). */
function planeLength(mesh: { positions: Float32Array; triangles: Uint32Array }): number {
  const on = (v: number) => mesh.positions[3 * v] === 20.5;
  let length = 0;
  const t = mesh.triangles;
  for (let i = 0; i < t.length; i += 3)
    for (let k = 0; k < 3; k++) {
      const [a, b] = [t[i + k], t[i + ((k + 1) % 3)]];
      if (on(a) && on(b)) length += Math.hypot(...[1, 2].map((d) => mesh.positions[3 * a + d] - mesh.positions[3 * b + d]));
    }
  return length; // each boundary edge is in one triangle
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
  for (const r of [10, 20, 40]) {
    it(`of radius ${r} meshes closed and manifold, with area within 1% of 4πr²`, async () => {
      const size: Vec3 = [2 * r + 6, 2 * r + 6, 2 * r + 6];
      const [only, ...rest] = await meshWhole(size, ball(r, [r + 2.6, r + 3.1, r + 2.8]));
      expect(rest).toEqual([]);
      expect(only.label).toBe(7n);
      expect(openEdges(only.mesh)).toBe(0);
      expect(nonManifoldVertices(only.mesh)).toBe(0);
      expect(eulerCharacteristic(only.mesh)).toBe(2);
      const error = surfaceArea(only.mesh) / (4 * Math.PI * r * r) - 1;
      expect(Math.abs(error)).toBeLessThan(0.01);
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
  it('slides the vertices on a shared plane within it, alike in both fragments, through smoothing and simplification', async () => {
    const bounds = box([0, 0, 0], [40, 40, 40]);
    const sides = [box([0, 0, 0], [20, 40, 40]), box([20, 0, 0], [40, 40, 40])]; // sharing the plane x = 20
    const centre: Vec3 = [20.2, 19.7, 20.4],
      r = 12;
    const circle = Math.sqrt(r * r - (20 - centre[0]) ** 2); // the ball's section by the plane
    for (const simplification of [0, 6]) {
      const planeVertices: string[][] = [];
      for (const chunk of sides) {
        const region = meshRegion(chunk, bounds);
        expect(region.sharedPlanes).toEqual([[20], [], []]);
        const labels = labelsOver(region.readBox, (x, y, z) => (x < 0 || y < 0 || z < 0 || x >= 40 || y >= 40 || z >= 40 ? 0 : ball(r, centre)(x, y, z)));
        const [{ mesh }] = await meshChunk({ labels, region, resolution: [1, 1, 1], simplification, kernels: cpuKernels });
        const onPlane: [number, number][] = [];
        for (let v = 0; v < mesh.positions.length; v += 3)
          if (mesh.positions[v] === 20.5) onPlane.push([mesh.positions[v + 1] - 0.5, mesh.positions[v + 2] - 0.5]);
        expect(onPlane.length).toBeGreaterThan(20);
        // The open boundary of the fragment lies on the plane: as many open edges as plane vertices (a loop).
        expect(openEdges(mesh)).toBe(onPlane.length);
        for (let v = 0; v < mesh.positions.length; v += 3) expect(Math.sign(mesh.positions[v] - 20.5)).not.toBe(chunk.start[0] === 0 ? 1 : -1);
        // Marching cubes put them on the midpoints of the plane's grid edges between a voxel in and one
        // out, joined across each grid square (marching squares: a convex section has two a square);
        // smoothed along that contour, they moved off the grid and its length came nearer the circle's.
        const inside = (y: number, z: number) => ball(r, centre)(20, y, z) !== 0;
        let midpoints = 0,
          staircase = 0;
        for (let y = -1; y <= 40; y++)
          for (let z = -1; z <= 40; z++) {
            midpoints += Number(inside(y, z) !== inside(y + 1, z)) + Number(inside(y, z) !== inside(y, z + 1));
            const cut: [number, number][] = [];
            if (inside(y, z) !== inside(y + 1, z)) cut.push([y + 0.5, z]);
            if (inside(y, z + 1) !== inside(y + 1, z + 1)) cut.push([y + 0.5, z + 1]);
            if (inside(y, z) !== inside(y, z + 1)) cut.push([y, z + 0.5]);
            if (inside(y + 1, z) !== inside(y + 1, z + 1)) cut.push([y + 1, z + 0.5]);
            expect(cut.length === 0 || cut.length === 2).toBe(true);
            if (cut.length === 2) staircase += Math.hypot(cut[0][0] - cut[1][0], cut[0][1] - cut[1][1]);
          }
        expect(onPlane.length).toBe(midpoints);
        expect(onPlane.filter(([y, z]) => Number.isInteger(y) === Number.isInteger(z)).length).toBeGreaterThan(onPlane.length / 2);
        const perimeter = 2 * Math.PI * circle;
        expect(Math.abs(planeLength(mesh) / perimeter - 1)).toBeLessThan(0.5 * Math.abs(staircase / perimeter - 1));
        planeVertices.push(onPlane.map((p) => p.join(',')).sort());
      }
      expect(planeVertices[1]).toEqual(planeVertices[0]); // the same floats on both sides
    }
  });

  it('does not pinch a thin neurite where it crosses a shared plane', async () => {
    const bounds = box([0, 0, 0], [40, 12, 12]);
    const tube = (x: number, y: number, z: number) => (x >= 2 && x < 38 && y === 6 && z === 6 ? 7 : 0); // one voxel wide, along x
    const radius = (mesh: { positions: Float32Array }, x: number) => {
      const r: number[] = [];
      for (let v = 0; v < mesh.positions.length; v += 3)
        if (Math.abs(mesh.positions[v] - x - 0.5) < 0.1) r.push(Math.hypot(mesh.positions[v + 1] - 6.5, mesh.positions[v + 2] - 6.5));
      return r.reduce((a, b) => a + b, 0) / r.length;
    };
    for (const chunk of [box([0, 0, 0], [20, 12, 12]), box([20, 0, 0], [40, 12, 12])]) {
      const region = meshRegion(chunk, bounds);
      const labels = labelsOver(region.readBox, (x, y, z) => (x < 0 || y < 0 || z < 0 || x >= 40 || y >= 12 || z >= 12 ? 0 : tube(x, y, z)));
      const [{ mesh }] = await meshChunk({ labels, region, resolution: [1, 1, 1], simplification: 0, kernels: cpuKernels });
      // Its section on the shared plane x = 20 against one inside the chunk (x = 10 or 30), smoothed alike.
      expect(radius(mesh, 20) / radius(mesh, chunk.start[0] + 10)).toBeGreaterThan(0.8);
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
