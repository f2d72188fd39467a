// What a MeshForge task leaves for the MeshMerge tasks: one object of lod 0 fragments, grouped by
// the merge task that takes each segment (its shard, or its batch when unsharded), and a small index
// of those groups, so a merge task reads one index and one byte range per forge task, and no stage
// lists the bucket. Little endian throughout.
//   <box>.frags: per group, per segment (ascending id): u64 id, u64 voxels (of the task's chunks),
//     u32 fragment count, then per fragment
//     u32 x, y, z (lod 0 node), u32 vertices, u32 triangles, f32 x y z per vertex, u32 3 per triangle.
//   <box>.index: "DGMI", u32 version 1, u32 group count, u32 0, then per group (ascending):
//     u32 group, u32 segments, u64 offset, u64 length (of its bytes in .frags).
import { Vec3 } from '../common/box.js';
import { CorruptData } from '../common/errors.js';
import { Fragment } from './multires.js';

const MAGIC = 0x494d4744; // "DGMI"
const INDEX_HEADER = 16,
  INDEX_ENTRY = 24;

export interface GroupRange {
  group: number;
  segments: number;
  offset: number;
  length: number;
}

/** The largest index a forge task can write: one entry per group. */
export function maxForgeIndexBytes(groups: number): number {
  return INDEX_HEADER + INDEX_ENTRY * groups;
}

/** A segment as the forge tasks see it: its lod 0 fragments and its voxels, summed over tasks by the merge. */
export interface ForgedSegment {
  fragments: Fragment[];
  voxels: number;
}

/** The .frags bytes and their index, from each segment's lod 0 fragments and voxels, and its group. */
export function encodeForgeObject(segments: Map<bigint, ForgedSegment>, groupOf: (id: bigint) => number): { frags: Uint8Array; index: Uint8Array } {
  const ids = [...segments.keys()].sort((a, b) => groupOf(a) - groupOf(b) || (a < b ? -1 : a > b ? 1 : 0));
  let size = 0;
  for (const id of ids) for (const f of segments.get(id)!.fragments) size += 20 + 4 * f.mesh.positions.length + 4 * f.mesh.triangles.length;
  size += 20 * ids.length;
  const frags = new Uint8Array(size);
  const view = new DataView(frags.buffer);
  const groups: GroupRange[] = [];
  let o = 0;
  for (const id of ids) {
    const group = groupOf(id);
    if (groups.at(-1)?.group !== group) groups.push({ group, segments: 0, offset: o, length: 0 });
    const range = groups.at(-1)!;
    const { fragments, voxels } = segments.get(id)!;
    view.setBigUint64(o, id, true);
    view.setBigUint64(o + 8, BigInt(voxels), true);
    view.setUint32(o + 16, fragments.length, true);
    o += 20;
    for (const f of fragments) {
      f.position.forEach((p, d) => view.setUint32(o + 4 * d, p, true));
      view.setUint32(o + 12, f.mesh.positions.length / 3, true);
      view.setUint32(o + 16, f.mesh.triangles.length / 3, true);
      o += 20;
      for (const x of f.mesh.positions) (view.setFloat32(o, x, true), (o += 4));
      for (const t of f.mesh.triangles) (view.setUint32(o, t, true), (o += 4));
    }
    range.segments++;
    range.length = o - range.offset;
  }
  const index = new DataView(new ArrayBuffer(INDEX_HEADER + INDEX_ENTRY * groups.length));
  index.setUint32(0, MAGIC, true);
  index.setUint32(4, 1, true);
  index.setUint32(8, groups.length, true);
  groups.forEach((g, i) => {
    const at = INDEX_HEADER + INDEX_ENTRY * i;
    index.setUint32(at, g.group, true);
    index.setUint32(at + 4, g.segments, true);
    index.setBigUint64(at + 8, BigInt(g.offset), true);
    index.setBigUint64(at + 16, BigInt(g.length), true);
  });
  return { frags, index: new Uint8Array(index.buffer) };
}

/** A forge index's entry for `group`, or null when the task has no segment of it. */
export function findGroup(bytes: Uint8Array, group: number, where: string): GroupRange | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < INDEX_HEADER || view.getUint32(0, true) !== MAGIC || view.getUint32(4, true) !== 1)
    throw new CorruptData(`${where}: not a digest forge index (magic or version)`);
  const n = view.getUint32(8, true);
  if (bytes.length !== INDEX_HEADER + INDEX_ENTRY * n) throw new CorruptData(`${where}: ${bytes.length} bytes for ${n} groups (torn or padded)`);
  let lo = 0,
    hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (view.getUint32(INDEX_HEADER + INDEX_ENTRY * mid, true) < group) lo = mid + 1;
    else hi = mid;
  }
  const at = INDEX_HEADER + INDEX_ENTRY * lo;
  if (lo === n || view.getUint32(at, true) !== group) return null;
  return { group, segments: view.getUint32(at + 4, true), offset: Number(view.getBigUint64(at + 8, true)), length: Number(view.getBigUint64(at + 16, true)) };
}

/** The segments of one group's bytes, their fragments and voxels added to `into` (fragments of one node never repeat). */
export function decodeGroup(bytes: Uint8Array, range: GroupRange, where: string, into: Map<bigint, ForgedSegment>): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  const need = (n: number) => {
    if (o + n > bytes.length) throw new CorruptData(`${where}: group ${range.group} ends inside a record (byte ${o}, ${n} more needed of ${bytes.length})`);
  };
  for (let s = 0; s < range.segments; s++) {
    need(20);
    const id = view.getBigUint64(o, true);
    const voxels = Number(view.getBigUint64(o + 8, true));
    const count = view.getUint32(o + 16, true);
    o += 20;
    const segment = into.get(id) ?? { fragments: [], voxels: 0 };
    segment.voxels += voxels;
    const list = segment.fragments;
    for (let k = 0; k < count; k++) {
      need(20);
      const position = [0, 1, 2].map((d) => view.getUint32(o + 4 * d, true)) as Vec3;
      const vertices = view.getUint32(o + 12, true),
        triangles = view.getUint32(o + 16, true);
      o += 20;
      need(12 * vertices + 12 * triangles);
      const positions = new Float32Array(3 * vertices);
      for (let i = 0; i < positions.length; i++, o += 4) positions[i] = view.getFloat32(o, true);
      const tri = new Uint32Array(3 * triangles);
      for (let i = 0; i < tri.length; i++, o += 4) {
        tri[i] = view.getUint32(o, true);
        if (tri[i] >= vertices) throw new CorruptData(`${where}: segment ${id} has a triangle on vertex ${tri[i]} of ${vertices}`);
      }
      list.push({ position, mesh: { positions, triangles: tri } });
    }
    into.set(id, segment);
  }
  if (o !== bytes.length) throw new CorruptData(`${where}: group ${range.group} has ${bytes.length - o} bytes after its ${range.segments} segments`);
}
