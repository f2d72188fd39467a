// TEASAR on shapes whose skeletons are known (a tube, a Y of tubes, a torus, a tube of anisotropic
// voxels, blobs of many labels), and the distance transform against brute force.
import { describe, expect, it } from 'vitest';
import { Vec3 } from '../common/box.js';
import { seededRandom } from '../test/reference.js';
import { squaredEdt } from './edt.js';
import { Skeleton, skeletonize } from './teasar.js';

/** A volume of `shape` holding label(x, y, z) (voxel indices). */
function volume(shape: Vec3, label: (x: number, y: number, z: number) => number): Uint32Array {
  const [sx, sy, sz] = shape;
  const out = new Uint32Array(sx * sy * sz);
  for (let z = 0; z < sz; z++) for (let y = 0; y < sy; y++) for (let x = 0; x < sx; x++) out[x + sx * (y + sy * z)] = label(x, y, z);
  return out;
}

const vertex = (s: Skeleton, k: number): Vec3 => [s.vertices[3 * k], s.vertices[3 * k + 1], s.vertices[3 * k + 2]];

/** Vertices, edges, ends (degree 1), branch points (3 or more), connected pieces and independent cycles. */
function graph(s: Skeleton) {
  const n = s.vertices.length / 3;
  const degree = new Array<number>(n).fill(0);
  const root = Array.from({ length: n }, (_, i) => i);
  const find = (a: number): number => (root[a] === a ? a : (root[a] = find(root[a])));
  const edges = new Set<string>();
  for (let e = 0; e < s.edges.length; e += 2) {
    const [a, b] = [s.edges[e], s.edges[e + 1]];
    degree[a]++;
    degree[b]++;
    root[find(a)] = find(b);
    edges.add([Math.min(a, b), Math.max(a, b)].join());
  }
  const pieces = new Set(root.map((_, i) => find(i))).size;
  const positions = new Set(Array.from({ length: n }, (_, k) => vertex(s, k).join()));
  return {
    vertices: n,
    edges: s.edges.length / 2,
    distinctEdges: edges.size,
    distinctPositions: positions.size,
    ends: degree.filter((d) => d === 1).length,
    branches: degree.filter((d) => d >= 3).length,
    pieces,
    cycles: s.edges.length / 2 - n + pieces,
  };
}

function pathLength(s: Skeleton, anisotropy: Vec3 = [1, 1, 1]): number {
  let length = 0;
  for (let e = 0; e < s.edges.length; e += 2) {
    const [p, q] = [vertex(s, s.edges[e]), vertex(s, s.edges[e + 1])];
    length += Math.hypot(...p.map((v, d) => (v - q[d]) * anisotropy[d]));
  }
  return length;
}

describe('distance transform', () => {
  it('equals brute force on random labels with anisotropic voxels, the array edge as background', () => {
    const random = seededRandom(7);
    const shape: Vec3 = [13, 11, 9],
      anisotropy: Vec3 = [4, 4, 40];
    // Blocky labels (runs of one label), some background.
    const labels = volume(shape, (x, y, z) => (random() < 0.1 ? 0 : 1 + (((x >> 2) + 3 * (y >> 2) + (z >> 1)) % 3)));
    const got = squaredEdt(labels, shape, anisotropy);
    const [sx, sy, sz] = shape;
    for (let z = 0; z < sz; z++)
      for (let y = 0; y < sy; y++)
        for (let x = 0; x < sx; x++) {
          const i = x + sx * (y + sy * z);
          if (labels[i] === 0) {
            expect(got[i]).toBe(0);
            continue;
          }
          // Nearest voxel of another label, or just outside the array.
          let best = Infinity;
          for (let c = -1; c <= sz; c++)
            for (let b = -1; b <= sy; b++)
              for (let a = -1; a <= sx; a++) {
                const outside = a < 0 || b < 0 || c < 0 || a >= sx || b >= sy || c >= sz;
                if (!outside && labels[a + sx * (b + sy * c)] === labels[i]) continue;
                best = Math.min(best, ((a - x) * 4) ** 2 + ((b - y) * 4) ** 2 + ((c - z) * 40) ** 2);
              }
          expect(got[i], `voxel ${x},${y},${z}`).toBeCloseTo(best, 6);
        }
  });
});

describe('TEASAR skeletons', () => {
  it('a straight tube: its length, on the axis away from the ends, the tube radius', () => {
    const R = 6;
    const shape: Vec3 = [220, 24, 24];
    const s = skeletonize(
      volume(shape, (x, y, z) => (x >= 10 && x < 210 && (y - 11) ** 2 + (z - 11) ** 2 <= R * R ? 7 : 0)),
      shape,
      [1, 1, 1],
    ).get(7n)!;
    expect(graph(s)).toMatchObject({ ends: 2, branches: 0, pieces: 1, cycles: 0 });
    expect(Math.abs(pathLength(s) - 200) / 200).toBeLessThan(0.05);
    for (let k = 0; k < s.vertices.length / 3; k++) {
      const [x, y, z] = vertex(s, k);
      if (x < 10 + R || x > 210 - R) continue;
      expect(Math.hypot(y - 11.5, z - 11.5), `vertex ${k}`).toBeLessThanOrEqual(1);
      expect(Math.abs(s.radius[k] - R) / R, `radius at vertex ${k}`).toBeLessThan(0.1);
    }
  });

  it('a Y of three tubes: one branch point, three ends', () => {
    const shape: Vec3 = [130, 130, 16];
    const arms = [0, 120, 240].map((a) => [Math.cos((a * Math.PI) / 180), Math.sin((a * Math.PI) / 180)]);
    const inY = (x: number, y: number, z: number) =>
      arms.some(([dx, dy]) => {
        const [px, py, pz] = [x - 65, y - 65, z - 7.5];
        const t = Math.max(0, Math.min(55, px * dx + py * dy));
        return Math.hypot(px - t * dx, py - t * dy, pz) <= 5;
      });
    const s = skeletonize(
      volume(shape, (x, y, z) => (inY(x, y, z) ? 3 : 0)),
      shape,
      [1, 1, 1],
    ).get(3n)!;
    expect(graph(s)).toMatchObject({ ends: 3, branches: 1, pieces: 1, cycles: 0 });
  });

  it('a torus: one cycle', () => {
    const shape: Vec3 = [80, 80, 18];
    const s = skeletonize(
      volume(shape, (x, y, z) => (Math.hypot(Math.hypot(x - 39.5, y - 39.5) - 28, z - 8.5) <= 6 ? 9 : 0)),
      shape,
      [1, 1, 1],
    ).get(9n)!;
    expect(graph(s)).toMatchObject({ pieces: 1, cycles: 1 });
  });

  it('a tube of anisotropic voxels (4 x 4 x 40 nm): one path, on the axis within a voxel, its radius within a z voxel', () => {
    // 300 voxels (1.2 um) long, 80 nm in radius (20 voxels in y, 2 in z).
    const shape: Vec3 = [320, 48, 8];
    const s = skeletonize(
      volume(shape, (x, y, z) => (x >= 10 && x < 310 && Math.hypot((y - 23.5) * 4, (z - 3.5) * 40) <= 80 ? 5 : 0)),
      shape,
      [4, 4, 40],
    ).get(5n)!;
    expect(graph(s)).toMatchObject({ ends: 2, branches: 0, pieces: 1, cycles: 0 });
    // Away from the ends (whose paths go out to the rim of the end faces) the path runs along the
    // axis: no zigzag between the two z layers beside it (a z step is 40 nm).
    const central = {
      ...s,
      edges: s.edges.filter((_, e, all) => [all[e - (e % 2)], all[e - (e % 2) + 1]].every((k) => vertex(s, k)[0] >= 30 && vertex(s, k)[0] <= 290)),
    };
    expect(Math.abs(pathLength(central, [4, 4, 40]) - 259 * 4) / (259 * 4)).toBeLessThan(0.05);
    for (let k = 0; k < s.vertices.length / 3; k++) {
      const [x, y, z] = vertex(s, k);
      if (x < 30 || x > 290) continue;
      expect(Math.abs(y - 24) * 4, `vertex ${k}`).toBeLessThanOrEqual(4);
      expect(Math.abs(z - 4) * 40, `vertex ${k}`).toBeLessThanOrEqual(40);
      expect(Math.abs(s.radius[k] - 80), `radius at vertex ${k}`).toBeLessThanOrEqual(40);
    }
  });

  it('blobs of many labels: each skeleton inside its segment, connected, no repeated vertex or edge, every voxel within the ball of a vertex', () => {
    const random = seededRandom(3);
    const shape: Vec3 = [64, 64, 32];
    // Each label a chain of overlapping balls (a wandering neurite); later labels drawn over earlier.
    const labels = new Uint32Array(shape[0] * shape[1] * shape[2]);
    for (let label = 1; label <= 6; label++) {
      let p = [random() * 64, random() * 64, random() * 32];
      for (let step = 0; step < 12; step++) {
        const r = 3 + random() * 3;
        for (let z = 0; z < 32; z++)
          for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) if (Math.hypot(x - p[0], y - p[1], z - p[2]) <= r) labels[x + 64 * (y + 64 * z)] = label;
        p = p.map((v, d) => Math.max(0, Math.min(shape[d] - 1, v + (random() - 0.5) * 10)));
      }
    }
    const params = { scale: 4, const: 0, dust: 1, pdrfScale: 100_000, pdrfExponent: 8 };
    const skeletons = skeletonize(labels, shape, [1, 1, 1], params);
    // Pieces of a label cut apart by a later one are skeletons of their own, one piece each.
    for (const [label, s] of skeletons) {
      const g = graph(s);
      expect(g.distinctPositions, `label ${label}`).toBe(g.vertices);
      expect(g.distinctEdges, `label ${label}`).toBe(g.edges);
      for (let k = 0; k < g.vertices; k++) {
        const [x, y, z] = vertex(s, k).map(Math.floor);
        expect(labels[x + 64 * (y + 64 * z)], `label ${label} vertex ${k}`).toBe(Number(label));
      }
      // Every voxel of the label within scale * DBF + const of some vertex (the invalidation that stopped it).
      for (let i = 0; i < labels.length; i++) {
        if (labels[i] !== Number(label)) continue;
        const p = [i % 64, Math.floor(i / 64) % 64, Math.floor(i / 4096)].map((v) => v + 0.5);
        let covered = false;
        for (let k = 0; k < g.vertices && !covered; k++)
          covered = Math.hypot(...vertex(s, k).map((v, d) => v - p[d])) <= params.scale * s.radius[k] + params.const + 1e-6;
        expect(covered, `label ${label} voxel ${p}`).toBe(true);
      }
    }
    expect(skeletons.size).toBe(6);
  });
});
