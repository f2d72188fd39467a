import { describe, expect, it } from 'vitest';
import { cpuKernels } from '../kernels/backend.js';
import { Vec3 } from '../precomputed/box.js';
import { emitTriangles, IndexedMesh } from './marching-cubes.js';

/** Closed and consistently oriented: every directed edge appears once and its reverse once. */
function openEdges(mesh: IndexedMesh): number {
  const directed = new Map<string, number>();
  const t = mesh.triangles;
  for (let i = 0; i < t.length; i += 3) for (let k = 0; k < 3; k++) {
    const key = `${t[i + k]},${t[i + (k + 1) % 3]}`;
    directed.set(key, (directed.get(key) ?? 0) + 1);
  }
  let bad = 0;
  for (const [key, n] of directed) {
    const [a, b] = key.split(',');
    if (n !== 1 || directed.get(`${b},${a}`) !== 1) bad++;
  }
  return bad;
}

/** Signed volume (divergence theorem): positive when triangles face outward. */
function signedVolume(mesh: IndexedMesh): number {
  const p = mesh.positions, t = mesh.triangles;
  let v = 0;
  for (let i = 0; i < t.length; i += 3) {
    const [a, b, c] = [t[i], t[i + 1], t[i + 2]].map((j) => [p[3 * j], p[3 * j + 1], p[3 * j + 2]]);
    v += a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0]) + a[2] * (b[0] * c[1] - b[1] * c[0]);
  }
  return v / 6;
}

function mesh(mask: (x: number, y: number, z: number) => boolean, shape: Vec3): IndexedMesh {
  const data = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (let z = 0; z < shape[2]; z++) for (let y = 0; y < shape[1]; y++) for (let x = 0; x < shape[0]; x++) data[x + shape[0] * (y + shape[1] * z)] = mask(x, y, z) ? 1 : 0;
  return emitTriangles(cpuKernels.marchingCubesScan(data, shape), shape);
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
    const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 20; trial++) {
      const shape: Vec3 = [9, 8, 7];
      const cells = Array.from({ length: 9 * 8 * 7 }, () => random() < 0.4);
      // Zero border so the surface cannot leave the grid.
      const m = mesh((x, y, z) => x > 0 && y > 0 && z > 0 && x < 8 && y < 7 && z < 6 && cells[x + 9 * (y + 8 * z)], shape);
      expect(openEdges(m)).toBe(0);
      expect(signedVolume(m)).toBeGreaterThan(0);
    }
  });
});
