// The skeleton encoding read back by the independent reader (test/skeleton-reader.ts, from
// skeletons.md), and SWC parsed back giving the same tree.
import { describe, expect, it } from 'vitest';
import { Vec3 } from '../common/box.js';
import { parseSwc, readSkeleton } from '../test/skeleton-reader.js';
import { encodeSkeleton, skeletonInfo, toSwc } from './format.js';
import { skeletonize } from './teasar.js';

/** A Y of tubes (8 x 8 x 40 nm voxels), skeletonized. */
function ySkeleton() {
  const shape: Vec3 = [100, 100, 12];
  const labels = new Uint32Array(shape[0] * shape[1] * shape[2]);
  for (let z = 0; z < shape[2]; z++)
    for (let y = 0; y < shape[1]; y++)
      for (let x = 0; x < shape[0]; x++)
        for (const a of [0, 2.1, 4.2]) {
          const [px, py] = [x - 50, y - 50];
          const t = Math.max(0, Math.min(40, px * Math.cos(a) + py * Math.sin(a)));
          if (Math.hypot((px - t * Math.cos(a)) * 8, (py - t * Math.sin(a)) * 8, (z - 5.5) * 40) <= 60) labels[x + 100 * (y + 100 * z)] = 12;
        }
  return skeletonize(labels, shape, [8, 8, 40]).get(12n)!;
}

describe('skeleton files', () => {
  it('the encoded skeleton reads back through the spec reader: positions, edges, radius', () => {
    const s = ySkeleton();
    const info = skeletonInfo([8, 8, 40], [10, 20, 30]);
    expect(info).toMatchObject({ '@type': 'neuroglancer_skeletons', vertex_attributes: [{ id: 'radius', data_type: 'float32', num_components: 1 }] });
    expect(info.transform).toEqual([8, 0, 0, 80, 0, 8, 0, 160, 0, 0, 40, 1200]);
    const read = readSkeleton(encodeSkeleton(s), info as never);
    expect(Array.from(read.positions)).toEqual(Array.from(s.vertices));
    expect(Array.from(read.edges)).toEqual(Array.from(s.edges));
    expect(Array.from(read.attributes.get('radius')!)).toEqual(Array.from(s.radius));
    expect(s.vertices.length / 3).toBeGreaterThan(50);
  });

  it('SWC parsed back is the same tree, in nm, parents before children', () => {
    const s = ySkeleton();
    const nodes = parseSwc(toSwc(s, [8, 8, 40], [10, 20, 30]));
    expect(nodes.length).toBe(s.vertices.length / 3);
    const byId = new Map(nodes.map((n) => [n.id, n]));
    nodes.forEach((n, i) => expect(n.parent === -1 || n.parent < n.id, `line ${i}`).toBe(true));
    expect(nodes.filter((n) => n.parent === -1).length).toBe(1);
    // The same undirected edges, by position.
    const key = (x: number, y: number, z: number) => [x, y, z].map((v) => v.toFixed(2)).join(',');
    const at = (k: number) => key(...([0, 1, 2].map((d) => (s.vertices[3 * k + d] + [10, 20, 30][d]) * [8, 8, 40][d]) as [number, number, number]));
    const want = new Set<string>();
    for (let e = 0; e < s.edges.length; e += 2) want.add([at(s.edges[e]), at(s.edges[e + 1])].sort().join('|'));
    const got = new Set(
      nodes
        .filter((n) => n.parent !== -1)
        .map((n) => [key(n.x, n.y, n.z), key(byId.get(n.parent)!.x, byId.get(n.parent)!.y, byId.get(n.parent)!.z)].sort().join('|')),
    );
    expect(got).toEqual(want);
    // Radii in nm, as the skeleton has them.
    const radius = new Map(Array.from({ length: s.radius.length }, (_, k) => [at(k), s.radius[k]]));
    for (const n of nodes) expect(n.radius).toBeCloseTo(radius.get(key(n.x, n.y, n.z))!, 2);
  });

  it('a loop: SWC keeps a spanning tree and says how many edges it left out', () => {
    const loop = {
      vertices: Float32Array.from([0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0]),
      edges: Uint32Array.from([0, 1, 1, 2, 2, 3, 3, 0]),
      radius: Float32Array.from([1, 1, 1, 1]),
    };
    const text = toSwc(loop, [1, 1, 1]);
    expect(text).toMatch(/1 edge\(s\) closing loops left out/);
    expect(parseSwc(text).filter((n) => n.parent !== -1).length).toBe(3);
  });
});
