// Neuroglancer's precomputed skeletons (skeletons.md): the info of a skeleton directory, and one
// segment's encoded skeleton: uint32 vertex count, uint32 edge count, float32 x y z per vertex
// (stored model coordinates: here the layer's voxels, which the info's transform scales to nm),
// uint32 vertex pairs, then each vertex attribute in the info's order (radius, float32, in nm).
// Little endian throughout. And SWC (id, type, x, y, z, radius, parent), the format tracing tools read.
import { Vec3 } from '../common/box.js';
import { CorruptData } from '../common/errors.js';
import type { Skeleton } from './teasar.js';

export const SKELETON_TYPE = 'neuroglancer_skeletons';

/** The info of a skeleton directory: stored coordinates are voxels of `resolution` (nm) from `offset`. */
export function skeletonInfo(resolution: Vec3, offset: Vec3 = [0, 0, 0], sharding?: unknown): Record<string, unknown> {
  return {
    '@type': SKELETON_TYPE,
    transform: [resolution[0], 0, 0, offset[0] * resolution[0], 0, resolution[1], 0, offset[1] * resolution[1], 0, 0, resolution[2], offset[2] * resolution[2]],
    vertex_attributes: [{ id: 'radius', data_type: 'float32', num_components: 1 }],
    ...(sharding ? { sharding } : {}),
  };
}

export function encodeSkeleton(s: Skeleton): Uint8Array {
  const n = s.vertices.length / 3,
    e = s.edges.length / 2;
  if (s.radius.length !== n) throw new CorruptData(`skeleton: ${s.radius.length} radii for ${n} vertices`);
  const out = new Uint8Array(8 + 12 * n + 8 * e + 4 * n);
  const view = new DataView(out.buffer);
  view.setUint32(0, n, true);
  view.setUint32(4, e, true);
  let o = 8;
  for (const v of s.vertices) (view.setFloat32(o, v, true), (o += 4));
  for (const v of s.edges) {
    if (v >= n) throw new CorruptData(`skeleton: an edge names vertex ${v} of ${n}`);
    view.setUint32(o, v, true);
    o += 4;
  }
  for (const r of s.radius) (view.setFloat32(o, r, true), (o += 4));
  return out;
}

/**
 * One encoded skeleton (with the radius attribute alone, as digest writes them), checked against
 * the sizes its counts claim; `where` names it in errors.
 */
export function decodeSkeleton(bytes: Uint8Array, where: string): Skeleton {
  if (bytes.length < 8) throw new CorruptData(`${where}: ${bytes.length} bytes, less than a skeleton's two counts`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0, true),
    e = view.getUint32(4, true);
  const expected = 8 + 16 * n + 8 * e;
  if (bytes.length !== expected) throw new CorruptData(`${where}: ${bytes.length} bytes, where ${n} vertices and ${e} edges with a radius take ${expected}`);
  const floats = (at: number, count: number) => Float32Array.from({ length: count }, (_, i) => view.getFloat32(at + 4 * i, true));
  const vertices = floats(8, 3 * n);
  const edges = Uint32Array.from({ length: 2 * e }, (_, i) => view.getUint32(8 + 12 * n + 4 * i, true));
  for (const v of edges) if (v >= n) throw new CorruptData(`${where}: an edge names vertex ${v} of ${n}`);
  return { vertices, edges, radius: floats(8 + 12 * n + 8 * e, n) };
}

/**
 * SWC lines of a skeleton, vertices in nm (`resolution` per voxel, from `offset`): each piece a
 * tree walked from its first vertex, parent -1 at its root. SWC holds trees only: an edge that
 * closes a loop is left out (and counted in the header).
 */
export function toSwc(s: Skeleton, resolution: Vec3, offset: Vec3 = [0, 0, 0], id = 'segment'): string {
  const n = s.vertices.length / 3;
  const adjacency: number[][] = Array.from({ length: n }, () => []);
  for (let k = 0; k < s.edges.length; k += 2) {
    adjacency[s.edges[k]].push(s.edges[k + 1]);
    adjacency[s.edges[k + 1]].push(s.edges[k]);
  }
  const number = new Int32Array(n).fill(-1);
  const lines: string[] = [];
  let next = 1,
    roots = 0;
  for (let root = 0; root < n; root++) {
    if (number[root] >= 0) continue;
    // Depth first, so that a parent's line comes before its children's.
    roots++;
    const stack: [number, number][] = [[root, -1]];
    while (stack.length) {
      const [v, parent] = stack.pop()!;
      if (number[v] >= 0) continue;
      number[v] = next++;
      const xyz = [0, 1, 2].map((d) => ((s.vertices[3 * v + d] + offset[d]) * resolution[d]).toFixed(3));
      lines.push(`${number[v]} 0 ${xyz.join(' ')} ${s.radius[v].toFixed(3)} ${parent < 0 ? -1 : number[parent]}`);
      for (const u of adjacency[v]) if (number[u] < 0) stack.push([u, v]);
    }
  }
  const loops = s.edges.length / 2 - (n - roots); // a forest of n vertices and `roots` trees has n - roots edges
  return `# ${id}: ${n} vertices in nm, radius in nm${loops > 0 ? `; ${loops} edge(s) closing loops left out (SWC is a tree)` : ''}\n${lines.join('\n')}\n`;
}
