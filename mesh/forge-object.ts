// What a MeshForge task leaves for the MeshMerge tasks: one object of lod 0 fragments, grouped by
// the merge task that takes each segment (its shard, or its batch when unsharded), and a small index
// of those groups, so a merge task reads one index and one byte range per forge task, and no stage
// lists the bucket. Little endian throughout.
//   <box>.frags: per group, per segment (ascending id): u64 id, u64 voxels (of the task's chunks),
//     u32 fragment count, then per fragment
//     u32 x, y, z (lod 0 node), u32 vertices, u32 triangles, f32 x y z per vertex, u32 3 per triangle.
//   <box>.index: "DGMI", u32 version 1, u32 group count, u32 0, then per group (ascending):
//     u32 group, u32 segments, u64 offset, u64 length (of its bytes in .frags).
// Large plans gather first (MeshGather: a block of forge objects, one range of groups), so that a
// merge task reads one entry and one byte range per gather object instead of every forge index:
//   <box>.ranges (forge, when gathered): u64 offset in .frags where each range of groups starts,
//     one more at the end: a gather task reads its two entries and one byte range.
//   gather/<box>.<range>.frags: as forge's; gather/<box>.<range>.index: as forge's but dense, an
//     entry for every group of the range (empty ones: 0 segments, length 0), at 16 + 24 * (group - first).
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
export function encodeForgeObject(
  segments: Map<bigint, ForgedSegment>,
  groupOf: (id: bigint) => number,
): { frags: Uint8Array; index: Uint8Array; groups: GroupRange[] } {
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
  return { frags, index: encodeGroupIndex(groups), groups };
}

/** The index of an object's groups (ascending), as findGroup reads it: forge objects and skeleton pieces use it. */
export function encodeGroupIndex(groups: GroupRange[]): Uint8Array {
  const index = new DataView(new ArrayBuffer(INDEX_HEADER + INDEX_ENTRY * groups.length));
  index.setUint32(0, MAGIC, true);
  index.setUint32(4, 1, true);
  index.setUint32(8, groups.length, true);
  groups.forEach((g, i) => setEntry(index, INDEX_HEADER + INDEX_ENTRY * i, g));
  return new Uint8Array(index.buffer);
}

function setEntry(view: DataView, at: number, g: GroupRange): void {
  view.setUint32(at, g.group, true);
  view.setUint32(at + 4, g.segments, true);
  view.setBigUint64(at + 8, BigInt(g.offset), true);
  view.setBigUint64(at + 16, BigInt(g.length), true);
}

/** A forge object's .ranges: where in its .frags (`length` bytes) each range of `perRange` groups starts, of `ranges`. */
export function encodeRangeTable(groups: GroupRange[], length: number, perRange: number, ranges: number): Uint8Array {
  const table = new BigUint64Array(ranges + 1);
  let k = 0;
  for (let r = 0; r <= ranges; r++) {
    while (k < groups.length && groups[k].group < r * perRange) k++;
    table[r] = BigInt(k < groups.length ? groups[k].offset : length);
  }
  return new Uint8Array(table.buffer);
}

/** The byte range of .frags that range `range` takes, from the 16 bytes of .ranges at 8 * range. */
export function decodeRangeEntry(bytes: Uint8Array | null, range: number, where: string): { offset: number; length: number } {
  if (!bytes || bytes.length !== 16) throw new CorruptData(`${where}: no entry for group range ${range} (${bytes?.length ?? 0} of 16 bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, 16);
  const start = Number(view.getBigUint64(0, true)),
    stop = Number(view.getBigUint64(8, true));
  if (stop < start) throw new CorruptData(`${where}: group range ${range} ends (${stop}) before it starts (${start})`);
  return { offset: start, length: stop - start };
}

/** A gather object's dense index: an entry for each of the `count` groups from `first` (`groups` are the ones with segments). */
export function encodeDenseIndex(groups: GroupRange[], first: number, count: number): Uint8Array {
  const index = new DataView(new ArrayBuffer(INDEX_HEADER + INDEX_ENTRY * count));
  index.setUint32(0, MAGIC, true);
  index.setUint32(4, 2, true);
  index.setUint32(8, count, true);
  index.setUint32(12, first, true);
  for (let g = 0; g < count; g++) setEntry(index, INDEX_HEADER + INDEX_ENTRY * g, { group: first + g, segments: 0, offset: 0, length: 0 });
  for (const g of groups) setEntry(index, INDEX_HEADER + INDEX_ENTRY * (g.group - first), g);
  return new Uint8Array(index.buffer);
}

/** Where a dense index holds `group`'s entry (its range starting at `first`). */
export const denseEntryAt = (group: number, first: number) => ({ offset: INDEX_HEADER + INDEX_ENTRY * (group - first), length: INDEX_ENTRY });

/** A dense index's entry, read by range: it must be `group`'s. */
export function decodeDenseEntry(bytes: Uint8Array | null, group: number, where: string): GroupRange {
  if (!bytes || bytes.length !== INDEX_ENTRY) throw new CorruptData(`${where}: no entry for group ${group} (${bytes?.length ?? 0} of ${INDEX_ENTRY} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, INDEX_ENTRY);
  if (view.getUint32(0, true) !== group) throw new CorruptData(`${where}: the entry for group ${group} names group ${view.getUint32(0, true)}`);
  return { group, segments: view.getUint32(4, true), offset: Number(view.getBigUint64(8, true)), length: Number(view.getBigUint64(16, true)) };
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
  const o = decodeSegments(bytes, range.segments, `${where}: group ${range.group}`, into);
  if (o !== bytes.length) throw new CorruptData(`${where}: group ${range.group} has ${bytes.length - o} bytes after its ${range.segments} segments`);
}

/** Every segment record of `bytes` (a range of groups of a forge object), added to `into`. */
export function decodeAllSegments(bytes: Uint8Array, where: string, into: Map<bigint, ForgedSegment>): void {
  decodeSegments(bytes, Infinity, where, into);
}

/** Up to `count` segment records from the start of `bytes` (all of them: Infinity) into `into`; the bytes they took. */
function decodeSegments(bytes: Uint8Array, count: number, where: string, into: Map<bigint, ForgedSegment>): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  const need = (n: number) => {
    if (o + n > bytes.length) throw new CorruptData(`${where} ends inside a record (byte ${o}, ${n} more needed of ${bytes.length})`);
  };
  for (let s = 0; s < count && (count !== Infinity || o < bytes.length); s++) {
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
  return o;
}
