import { describe, expect, it } from 'vitest';
import { marchingCubesScan } from '../kernels/marching-cubes-scan.js';
import { Vec3 } from '../common/box.js';
import { maskOf, nonManifoldVertices, openEdges, signedVolume } from '../test/mesh-check.js';
import { emitTriangles, IndexedMesh } from './marching-cubes.js';

function mesh(inside: (x: number, y: number, z: number) => boolean, shape: Vec3): IndexedMesh {
  return emitTriangles(marchingCubesScan(maskOf(shape, inside), shape), shape);
}

describe('marching-cubes triangles', () => {
  it('wrap one voxel in a closed, outward octahedron of volume 1/6', () => {
    const m = mesh((x, y, z) => x === 1 && y === 1 && z === 1, [3, 3, 3]);
    expect(m.triangles.length / 3).toBe(8);
    expect(openEdges(m)).toBe(0);
    expect(signedVolume(m)).toBeCloseTo(1 / 6, 10); // octahedron with vertices 1/2 from the centre
  });

  it('close every surface of random blobs, with consistent outward orientation', () => {
    let s = 7;
    const random = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    for (let trial = 0; trial < 20; trial++) {
      const shape: Vec3 = [9, 8, 7];
      const cells = Array.from({ length: 9 * 8 * 7 }, () => random() < 0.4);
      // Zero border so the surface cannot leave the grid.
      const m = mesh((x, y, z) => x > 0 && y > 0 && z > 0 && x < 8 && y < 7 && z < 6 && cells[x + 9 * (y + 8 * z)], shape);
      expect(openEdges(m)).toBe(0);
      expect(nonManifoldVertices(m)).toBe(0);
      expect(signedVolume(m)).toBeGreaterThan(0);
    }
  });
});
