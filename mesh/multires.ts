// Neuroglancer's multi-resolution mesh format (neuroglancer_multilod_draco, meshes.md): per segment an
// octree of fragments, level of detail (lod) 0 the finest, each node of lod L covering 2x2x2 nodes of
// lod L-1; a manifest lists every lod's node positions (Z-order) and fragment sizes; fragments are
// Draco meshes with positions quantized to the node's box.
//
// Coordinates ("stored model" space) are voxels with voxel v's centre at v + 0.5 (the info's transform
// scales them to nm). The octree's lod 0 nodes are the cube-ownership boxes of mesh/chunk-mesher.ts
// (multiresRegion), so a node's mesh lies inside its node and its vertices on the node's faces are
// where marching cubes put them, shared exactly with the neighbouring node.
//
// Lod L > 0 is built from lod L-1: each child node's fragment, its parts welded, is simplified on its
// own with every vertex on the child's faces locked and the merged vertices kept inside the child's
// box; the parent's fragment is the union of its children's. So no triangle of lod L crosses its
// node's 2x2x2 subdivision, and the surface's trace on every octree face is the same at every lod:
// no cracks between neighbouring nodes drawn at different lods.
import { Vec3 } from '../common/box.js';
import { IndexedMesh } from './marching-cubes.js';
import { simplifyMesh } from './simplify.js';
import { encodeDracoMesh } from './draco.js';

export const VERTEX_QUANTIZATION_BITS = 10;

export interface OctreeGeometry {
  /** Stored-model origin of node (0, 0, 0). */
  gridOrigin: Vec3;
  /** Stored-model extent of a lod 0 node. */
  chunkShape: Vec3;
}

export interface Fragment {
  /** Node position in units of this lod's node size. */
  position: Vec3;
  /** Positions in stored-model coordinates. */
  mesh: IndexedMesh;
}

/** The info of a multi-resolution mesh directory: stored-model voxels to nm by `resolution`. */
export function multiresInfo(resolution: Vec3, sharding?: object): Record<string, unknown> {
  return {
    '@type': 'neuroglancer_multilod_draco',
    vertex_quantization_bits: VERTEX_QUANTIZATION_BITS,
    transform: [resolution[0], 0, 0, 0, 0, resolution[1], 0, 0, 0, 0, resolution[2], 0],
    lod_scale_multiplier: 1,
    ...(sharding ? { sharding } : {}),
  };
}

/** The stored-model box of node `position` at `lod`. */
export function nodeBox(g: OctreeGeometry, lod: number, position: Vec3): { lo: Vec3; hi: Vec3 } {
  const size = g.chunkShape.map((c) => c * 2 ** lod);
  return {
    lo: position.map((p, d) => g.gridOrigin[d] + p * size[d]) as Vec3,
    hi: position.map((p, d) => g.gridOrigin[d] + (p + 1) * size[d]) as Vec3,
  };
}

/** Interleaved bits of x, y, z (x lowest): the Z-curve order the manifest requires. */
export function zOrder(p: Vec3): bigint {
  // 10 bits of each axis at a time in a number (30 bits), then placed in the bigint.
  let code = 0n;
  for (let chunk = 0; chunk < 32 && (p[0] | p[1] | p[2]) >>> chunk !== 0; chunk += 10) {
    let part = 0;
    for (let bit = 0; bit < 10 && chunk + bit < 32; bit++) for (let d = 0; d < 3; d++) part |= ((p[d] >>> (chunk + bit)) & 1) << (3 * bit + d);
    code |= BigInt(part >>> 0) << BigInt(3 * chunk);
  }
  return code;
}

/**
 * Every lod of one segment from its lod 0 fragments: lods are added until one node holds the whole
 * segment or `maxLods` are made. Each lod aims at half the triangles of the one below.
 */
export function buildLods(lod0: Fragment[], g: OctreeGeometry, maxLods: number): Fragment[][] {
  const lods = [sortZ(lod0)];
  for (let lod = 1; lod < maxLods && lods[lod - 1].length > 1; lod++) {
    const parents = new Map<bigint, { position: Vec3; parts: IndexedMesh[] }>();
    for (const child of lods[lod - 1]) {
      const position = child.position.map((p) => p >>> 1) as Vec3;
      const key = zOrder(position);
      const parent = parents.get(key) ?? { position, parts: [] };
      parent.parts.push(coarsen(child, lod - 1, g));
      parents.set(key, parent);
    }
    lods.push(sortZ([...parents.values()].map(({ position, parts }) => ({ position, mesh: concat(parts) }))));
  }
  return lods;
}

/** A child's fragment at half its triangles, inside its node, its faces' vertices kept. */
function coarsen(child: Fragment, lod: number, g: OctreeGeometry): IndexedMesh {
  const mesh = weld(child.mesh);
  const { lo, hi } = nodeBox(g, lod, child.position);
  const fixed = new Uint8Array(mesh.positions.length / 3);
  for (let v = 0; v < fixed.length; v++)
    for (let d = 0; d < 3; d++) {
      const x = mesh.positions[3 * v + d];
      if (x <= lo[d] || x >= hi[d]) fixed[v] = 1;
    }
  // Half the triangles; a merged vertex may stray 2^lod voxels from its faces' planes (one voxel for
  // lod 1, as the detail it shows is twice as coarse as lod 0's), in the quadric's summed measure.
  const deviation = 2 ** lod;
  const triangles = mesh.triangles.length / 3;
  return simplifyMesh(mesh, fixed, { targetTriangles: Math.ceil(triangles / 2), maxError: 4 * deviation * deviation }, { lo, hi });
}

/**
 * One vertex per distinct position (the parts of a fragment repeat the vertices on their shared
 * faces): an open-addressing table on the positions' float32 bits.
 */
export function weld(mesh: IndexedMesh): IndexedMesh {
  const n = mesh.positions.length / 3;
  const p = mesh.positions;
  // Hashed on the float32 bits, -0 as +0 (they are one position).
  const bits = Uint32Array.from(new Uint32Array(p.buffer, p.byteOffset, p.length), (b) => (b === 0x80000000 ? 0 : b));
  let size = 1;
  while (size < 2 * n) size *= 2;
  const slots = new Int32Array(size).fill(-1);
  const remap = new Uint32Array(n);
  const positions = new Float32Array(mesh.positions.length);
  let kept = 0;
  for (let v = 0; v < n; v++) {
    const x = bits[3 * v],
      y = bits[3 * v + 1],
      z = bits[3 * v + 2];
    let slot = (Math.imul(x, 0x9e3779b1) ^ Math.imul(y, 0x85ebca77) ^ Math.imul(z, 0xc2b2ae3d)) & (size - 1);
    for (;;) {
      const k = slots[slot];
      if (k < 0) {
        slots[slot] = kept;
        positions.set(mesh.positions.subarray(3 * v, 3 * v + 3), 3 * kept);
        remap[v] = kept++;
        break;
      }
      if (positions[3 * k] === p[3 * v] && positions[3 * k + 1] === p[3 * v + 1] && positions[3 * k + 2] === p[3 * v + 2]) {
        remap[v] = k;
        break;
      }
      slot = (slot + 1) & (size - 1);
    }
  }
  return { positions: positions.slice(0, 3 * kept), triangles: mesh.triangles.map((t) => remap[t]) };
}

export function concat(parts: IndexedMesh[]): IndexedMesh {
  const positions = new Float32Array(parts.reduce((n, m) => n + m.positions.length, 0));
  const triangles = new Uint32Array(parts.reduce((n, m) => n + m.triangles.length, 0));
  let v = 0,
    t = 0;
  for (const m of parts) {
    positions.set(m.positions, 3 * v);
    for (let i = 0; i < m.triangles.length; i++) triangles[t + i] = m.triangles[i] + v;
    v += m.positions.length / 3;
    t += m.triangles.length;
  }
  return { positions, triangles };
}

function sortZ(fragments: Fragment[]): Fragment[] {
  return fragments
    .map((f) => ({ f, key: zOrder(f.position) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map(({ f }) => f);
}

/** Positions as integers in [0, 2^bits - 1] across the node's box (its faces map to 0 and the maximum exactly). */
export function quantize(mesh: IndexedMesh, box: { lo: Vec3; hi: Vec3 }, bits = VERTEX_QUANTIZATION_BITS): Int32Array {
  const top = 2 ** bits - 1;
  const out = new Int32Array(mesh.positions.length);
  for (let i = 0; i < out.length; i++) {
    const d = i % 3;
    const x = Math.round(((mesh.positions[i] - box.lo[d]) / (box.hi[d] - box.lo[d])) * top);
    out[i] = Math.min(top, Math.max(0, x));
  }
  return out;
}

/**
 * Quantized positions without the triangles that quantization collapsed (two vertices on one integer
 * position) and the vertices left unused. Such triangles have no area to draw, and Draco cannot
 * encode a mesh of only them: an isolated voxel, smoothed to a dot, at a coarse lod. A fragment left
 * with none is empty (0 bytes), which Neuroglancer's manifest reader marks as such.
 */
export function withoutDegenerate(quantized: Int32Array, triangles: Uint32Array): { positions: Int32Array; triangles: Uint32Array } {
  const same = (a: number, b: number) =>
    quantized[3 * a] === quantized[3 * b] && quantized[3 * a + 1] === quantized[3 * b + 1] && quantized[3 * a + 2] === quantized[3 * b + 2];
  const kept: number[] = [];
  for (let t = 0; t < triangles.length; t += 3) {
    const [a, b, c] = [triangles[t], triangles[t + 1], triangles[t + 2]];
    if (!same(a, b) && !same(b, c) && !same(a, c)) kept.push(a, b, c);
  }
  if (kept.length === triangles.length) return { positions: quantized, triangles };
  const index = new Int32Array(quantized.length / 3).fill(-1);
  let used = 0;
  for (const v of kept) if (index[v] < 0) index[v] = used++;
  const positions = new Int32Array(3 * used);
  for (let v = 0; v < index.length; v++) if (index[v] >= 0) positions.set(quantized.subarray(3 * v, 3 * v + 3), 3 * index[v]);
  return { positions, triangles: Uint32Array.from(kept, (v) => index[v]) };
}

/**
 * A segment's manifest and fragment data: lods in order, fragments in Z-order, each Draco-encoded
 * with positions quantized to its node.
 */
export async function encodeSegment(lods: Fragment[][], g: OctreeGeometry): Promise<{ manifest: Uint8Array; data: Uint8Array }> {
  const encoded: Uint8Array[][] = [];
  for (const [lod, fragments] of lods.entries()) {
    const level: Uint8Array[] = [];
    for (const f of fragments) {
      const { positions, triangles } = withoutDegenerate(quantize(f.mesh, nodeBox(g, lod, f.position)), f.mesh.triangles);
      level.push(await encodeDracoMesh(positions, triangles));
    }
    encoded.push(level);
  }
  const fragments = lods.reduce((n, l) => n + l.length, 0);
  const manifest = new DataView(new ArrayBuffer(4 * (3 + 3 + 1 + lods.length * 5) + 16 * fragments));
  let o = 0;
  const f32 = (x: number) => (manifest.setFloat32(o, x, true), (o += 4));
  const u32 = (x: number) => (manifest.setUint32(o, x, true), (o += 4));
  g.chunkShape.forEach(f32);
  g.gridOrigin.forEach(f32);
  u32(lods.length);
  lods.forEach((_, lod) => f32(2 ** lod));
  lods.forEach(() => [0, 0, 0].forEach(f32)); // vertex_offsets
  lods.forEach((l) => u32(l.length));
  for (const [lod, level] of lods.entries()) {
    for (let d = 0; d < 3; d++) for (const f of level) u32(f.position[d]);
    for (const bytes of encoded[lod]) u32(bytes.length);
  }
  const data = new Uint8Array(encoded.flat().reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of encoded.flat()) {
    data.set(b, at);
    at += b.length;
  }
  return { manifest: new Uint8Array(manifest.buffer), data };
}
