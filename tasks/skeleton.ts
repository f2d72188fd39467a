// Skeletons in two stages (skeletons/teasar.ts builds them, skeletons/format.ts writes them):
// - Skeletonize, per box of whole mip 0 chunks read with one more voxel at its upper faces (the plane
//   the next box starts with): TEASAR of every label, the centres of the contact areas on the faces
//   it shares with neighbouring boxes forced as targets (each face's plane read grown by a chunk past
//   the box's edges, so both boxes find the same voxels there, where the axis crosses), the pieces
//   written as one object grouped by merge task, with an index (as forge objects are).
// - SkeletonGather (plans whose merges would read too many boxes' indexes, as MeshGather for meshes):
//   per block of boxes and range of groups, the boxes' parts for those groups in one object with a
//   dense index, so that a merge reads an entry and a byte range per block.
// - SkeletonMerge, per group (a shard, or a batch of ids when unsharded): every box's part for its
//   group, each segment's pieces joined at their shared vertices (the same positions, counted once),
//   the tiny loops where two boxes' paths near a face differ cut, the spurs to slivers pinned at the
//   faces pruned, and written: the shard whole, or `<dir>/<id>`.
import { box, Box, chunkKey, parseChunkKey, Vec3, voxelCount } from '../common/box.js';
import { asLabels } from '../common/dtype.js';
import { CorruptData, InvalidInput } from '../common/errors.js';
import { count, integer } from '../common/schema.js';
import { encodeDenseIndex, encodeGroupIndex, encodeRangeTable, GroupRange } from '../mesh/forge-object.js';
import { assertChunkUnion, chunkSize } from '../precomputed/info.js';
import { ShardedKvStore } from '../precomputed/sharded-store.js';
import { ShardingSpec } from '../precomputed/sharding.js';
import { Volume } from '../precomputed/volume.js';
import { decodeSkeleton, encodeSkeleton, SKELETON_TYPE } from '../skeletons/format.js';
import { borderTargets, DEFAULT_TEASAR, FacePlane, Skeleton, skeletonize } from '../skeletons/teasar.js';
import { checkKey } from '../storage/store.js';
import { boxKey, text } from './fields.js';
import { defineTask, TaskOf } from './kind.js';
import * as v from 'valibot';
import type { TaskContext } from './context.js';
import { boxesIn, chunkBlockAt, chunkBlockCount, chunkBlocks, mergeGroups, readDirectoryInfo, readGroupPart, readRangePart } from './segment-objects.js';

const nonNegative = v.pipe(v.number('must be a number'), v.minValue(0, 'must be 0 or more'));

const skeletonizeFields = {
  layer_path: text,
  /** Whole mip 0 chunks, `x0-x1_y0-y1_z0-z1` in voxels. */
  chunk_position: boxKey,
  /** Unsharded: segment id mod batches is the merge task that takes it. */
  batches: v.optional(integer(1, 2 ** 30)),
  /** Invalidation ball radius = scale * DBF + const (nm). */
  scale: v.optional(nonNegative),
  const: v.optional(nonNegative),
  /** Pieces of fewer voxels are left out. */
  dust: v.optional(count),
  /** Gathered plans: groups a gather range holds (the task then writes where each range starts). */
  gather_groups: v.optional(integer(1, 2 ** 30)),
};
export const skeletonizeTask = defineTask('skeletonize', 'Skeletonize task', skeletonizeFields, {
  id: (task) => `skeletonize:${task.layer_path}:${task.chunk_position}`,
  run: runSkeletonize,
});
export type SkeletonizeTask = TaskOf<'skeletonize', typeof skeletonizeFields>;

const mergeFields = {
  layer_path: text,
  group: count,
  batches: v.optional(integer(1, 2 ** 30)),
  /** Chunks a side of the Skeletonize boxes (their grid over mip 0). */
  block: integer(1, 2 ** 20),
  /** The Skeletonize tasks' ball scale (seam spurs whose balls lie inside others' are pruned). */
  scale: v.optional(nonNegative),
  /** Gathered plans: Skeletonize boxes a side of a gather block, and the groups of a gather range. */
  gather_block: v.optional(integer(1, 2 ** 20)),
  gather_groups: v.optional(integer(1, 2 ** 30)),
};
export const skeletonMerge = defineTask('skeleton_merge', 'SkeletonMerge task', mergeFields, {
  id: (task) => `skeleton_merge:${task.layer_path}:${task.group}`,
  run: runMerge,
});
export type SkeletonMergeTask = TaskOf<'skeleton_merge', typeof mergeFields>;

const gatherFields = {
  layer_path: text,
  batches: v.optional(integer(1, 2 ** 30)),
  /** Chunks a side of the Skeletonize boxes. */
  block: integer(1, 2 ** 20),
  /** Skeletonize boxes a side of a gather block. */
  gather_block: integer(1, 2 ** 20),
  /** Groups a range holds: range r is groups [r * gather_groups, (r + 1) * gather_groups). */
  gather_groups: integer(1, 2 ** 30),
  /** Which block and range: block * ranges + range (blocks x fastest over the grid of gather blocks). */
  part: count,
};
export const skeletonGather = defineTask('skeleton_gather', 'SkeletonGather task', gatherFields, {
  id: (task) => `skeleton_gather:${task.layer_path}:${task.part}`,
  run: runGather,
});
export type SkeletonGatherTask = TaskOf<'skeleton_gather', typeof gatherFields>;

/** The skeleton directory of a layer and its sharding, checked. */
export async function skeletonDirectory(volume: Volume, what: string): Promise<{ dir: string; sharding?: ShardingSpec }> {
  const name = volume.info.skeletons;
  if (volume.info.type !== 'segmentation') throw new InvalidInput(`${what}: layer ${volume.url} is of type ${volume.info.type}, skeletons need a segmentation`);
  if (typeof name !== 'string' || name === '')
    throw new InvalidInput(`${what}: layer ${volume.url} has no "skeletons" key in its info (digest plan skeleton adds it)`);
  let dir: string;
  try {
    dir = checkKey(name.replace(/\/+$/, ''));
  } catch {
    throw new InvalidInput(`${what}: info "skeletons" ${JSON.stringify(name)} must be a relative directory name`);
  }
  return { dir, sharding: await readDirectoryInfo(volume, dir, SKELETON_TYPE, what, 'digest plan skeleton') };
}

/**
 * Skeletons of one layer read by segment id (sharded or not; a missing segment gives null), and
 * where their stored coordinates lie: `resolution` nm a unit from `offset` units (the info's
 * transform, which must be diagonal, as digest writes it). Only a radius attribute is read.
 */
export async function skeletonReader(
  volume: Volume,
  what: string,
): Promise<{ read: (id: bigint) => Promise<Skeleton | null>; resolution: Vec3; offset: Vec3 }> {
  const { dir, sharding } = await skeletonDirectory(volume, what);
  const where = `${volume.url}/${dir}/info`;
  const info = JSON.parse(new TextDecoder().decode((await volume.store.get(`${dir}/info`, { maxBytes: 64 << 10 }))!)) as Record<string, unknown>;
  const t = info.transform ?? [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0];
  if (!Array.isArray(t) || t.length !== 12 || !t.every((x) => typeof x === 'number') || [1, 2, 4, 6, 8, 9].some((i) => t[i] !== 0))
    throw new InvalidInput(`${what}: ${where} "transform" ${JSON.stringify(t)} is not 12 numbers of a scale and a translation`);
  const attributes = JSON.stringify(info.vertex_attributes ?? []);
  if (attributes !== JSON.stringify([{ id: 'radius', data_type: 'float32', num_components: 1 }]))
    throw new InvalidInput(`${what}: ${where} "vertex_attributes" ${attributes}: only a float32 radius is read`);
  const resolution: Vec3 = [t[0], t[5], t[10]];
  const offset = [t[3], t[7], t[11]].map((x, d) => x / resolution[d]) as Vec3;
  const shards = sharding && new ShardedKvStore(volume.store, dir, sharding, MAX_SKELETONS_PER_MINISHARD);
  const read = async (id: bigint) => {
    const where = `${volume.url}/${dir} (segment ${id})`;
    const bytes = shards ? await shards.get(id, MAX_SKELETON_BYTES) : await volume.store.get(`${dir}/${id}`, { maxBytes: MAX_SKELETON_BYTES });
    return bytes ? decodeSkeleton(bytes, where) : null;
  };
  return { read, resolution, offset };
}

/** Bounds for reading skeletons: the most one segment's skeleton may take, the most ids a minishard may list. */
const MAX_SKELETON_BYTES = 1 << 30;
const MAX_SKELETONS_PER_MINISHARD = 1 << 24;

const piecesKey = (dir: string, chunks: Box, ext: 'pieces' | 'index' | 'ranges') => `${dir}/forge/${chunkKey(chunks)}.${ext}`;
const gatherKey = (dir: string, chunks: Box, range: number, ext: 'pieces' | 'index') => `${dir}/forge/gather/${chunkKey(chunks)}.${range}.${ext}`;

async function runSkeletonize(task: SkeletonizeTask, ctx: TaskContext) {
  const volume = await ctx.open(task.layer_path);
  const what = 'Skeletonize task';
  const { dir, sharding } = await skeletonDirectory(volume, what);
  const { groups, groupOf } = mergeGroups(sharding, task.batches, what);
  const scale = volume.scale(0);
  const chunks = parseChunkKey(task.chunk_position, `${what}: chunk_position`);
  assertChunkUnion(scale, chunks, `${what}: chunk_position`);
  const bounds = volume.bounds(0);
  // One more voxel at the upper faces inside the volume: the plane the next box starts with.
  const read = box(chunks.start, chunks.stop.map((s, d) => Math.min(s + 1, bounds.stop[d])) as Vec3);
  const shape = read.stop.map((s, d) => s - read.start[d]) as Vec3;
  const labels = asLabels(await volume.read(0, read));
  const faces = [0, 1, 2].flatMap((d) => [read.start[d] > bounds.start[d], read.stop[d] < bounds.stop[d]]);
  const resolution = scale.resolution as Vec3;
  const params = {
    ...DEFAULT_TEASAR,
    ...(task.scale !== undefined ? { scale: task.scale } : {}),
    ...(task.const !== undefined ? { const: task.const } : {}),
    ...(task.dust !== undefined ? { dust: task.dust } : {}),
  };
  const planes = await facePlanes(volume, read, faces);
  const skeletons = skeletonize(labels, shape, resolution, params, borderTargets(planes, shape, resolution), faces);
  // Stored coordinates: voxels from the volume's offset (skeletonInfo's transform).
  const shift = read.start.map((s, d) => s - bounds.start[d]);
  const { pieces, index, ranges } = encodePieces(skeletons, shift, groupOf);
  await volume.store.put(piecesKey(dir, chunks, 'pieces'), pieces, { contentType: 'application/octet-stream' });
  await volume.store.put(piecesKey(dir, chunks, 'index'), index, { contentType: 'application/octet-stream' });
  if (task.gather_groups) {
    const table = encodeRangeTable(ranges, pieces.length, task.gather_groups, Math.ceil(groups / task.gather_groups));
    await volume.store.put(piecesKey(dir, chunks, 'ranges'), table, { contentType: 'application/octet-stream' });
  }
  return { kind: 'skeletonize', voxels: voxelCount(chunks), chunksWritten: 0, files: task.gather_groups ? 3 : 2, segments: skeletons.size };
}

/**
 * The planes a read box shares with its neighbours (`faces`, as skeletonize's open faces), each read
 * grown by a chunk past the box's edges in the plane (the chunks along them; clipped to the volume):
 * both boxes of a face see the same plane, so they pin the same voxels (borderTargets).
 */
async function facePlanes(volume: Volume, read: Box, faces: boolean[]): Promise<FacePlane[]> {
  const bounds = volume.bounds(0);
  const chunk = chunkSize(volume.scale(0));
  const planes: FacePlane[] = [];
  for (let d = 0; d < 3; d++)
    for (const upper of [false, true]) {
      if (!faces[2 * d + (upper ? 1 : 0)]) continue;
      const at = upper ? read.stop[d] - 1 - read.start[d] : 0;
      const start = [0, 1, 2].map((a) => (a === d ? read.start[d] + at : Math.max(bounds.start[a], read.start[a] - chunk[a]))) as Vec3;
      const stop = [0, 1, 2].map((a) => (a === d ? read.start[d] + at + 1 : Math.min(bounds.stop[a], read.stop[a] + chunk[a]))) as Vec3;
      const [u, w] = [0, 1, 2].filter((a) => a !== d);
      planes.push({
        axis: d,
        at,
        labels: asLabels(await volume.read(0, box(start, stop))),
        size: [stop[u] - start[u], stop[w] - start[w]],
        origin: [read.start[u] - start[u], read.start[w] - start[w]],
        open: [start[u] > bounds.start[u], stop[u] < bounds.stop[u], start[w] > bounds.start[w], stop[w] < bounds.stop[w]],
      });
    }
  return planes;
}

/**
 * A box's skeletons grouped by merge task: per segment (ascending id within its group) u64 id, u32
 * vertices, u32 edges, f32 x y z per vertex (shifted by `shift`), u32 2 per edge, f32 radius per
 * vertex; and the index of the groups.
 */
function encodePieces(
  skeletons: Map<bigint, Skeleton>,
  shift: number[],
  groupOf: (id: bigint) => number,
): { pieces: Uint8Array; index: Uint8Array; ranges: GroupRange[] } {
  const ids = [...skeletons.keys()].sort((a, b) => groupOf(a) - groupOf(b) || (a < b ? -1 : a > b ? 1 : 0));
  let size = 0;
  for (const id of ids) {
    const s = skeletons.get(id)!;
    size += 16 + 4 * (s.vertices.length + s.edges.length + s.radius.length);
  }
  const pieces = new Uint8Array(size);
  const view = new DataView(pieces.buffer);
  const groups: GroupRange[] = [];
  let o = 0;
  for (const id of ids) {
    const s = skeletons.get(id)!;
    const group = groupOf(id);
    if (groups.at(-1)?.group !== group) groups.push({ group, segments: 0, offset: o, length: 0 });
    view.setBigUint64(o, id, true);
    view.setUint32(o + 8, s.radius.length, true);
    view.setUint32(o + 12, s.edges.length / 2, true);
    o += 16;
    s.vertices.forEach((x, i) => (view.setFloat32(o, x + shift[i % 3], true), (o += 4)));
    for (const e of s.edges) (view.setUint32(o, e, true), (o += 4));
    for (const r of s.radius) (view.setFloat32(o, r, true), (o += 4));
    const range = groups.at(-1)!;
    range.segments++;
    range.length = o - range.offset;
  }
  return { pieces, index: encodeGroupIndex(groups), ranges: groups };
}

/** A segment's pieces joined: vertices at one position counted once, edges once each. */
class JoinedSkeleton {
  private readonly at = new Map<string, number>();
  readonly vertices: number[] = [];
  readonly radius: number[] = [];
  private readonly edges = new Set<string>();

  add(vertices: Float32Array, edges: Uint32Array, radius: Float32Array): void {
    const index = Array.from({ length: radius.length }, (_, k) => {
      const key = `${vertices[3 * k]},${vertices[3 * k + 1]},${vertices[3 * k + 2]}`;
      let i = this.at.get(key);
      if (i === undefined) {
        i = this.radius.length;
        this.at.set(key, i);
        this.vertices.push(vertices[3 * k], vertices[3 * k + 1], vertices[3 * k + 2]);
        this.radius.push(radius[k]);
      } else this.radius[i] = Math.max(this.radius[i], radius[k]); // a seam vertex: the two boxes' DBF, cut at their faces
      return i;
    });
    for (let e = 0; e < edges.length; e += 2) {
      const [a, b] = [index[edges[e]], index[edges[e + 1]]];
      if (a !== b) this.edges.add(a < b ? `${a},${b}` : `${b},${a}`);
    }
  }

  /**
   * The joined skeleton, seam artefacts removed. Where two boxes' paths near a shared face differ,
   * their union closes a loop a few voxels round (where four boxes meet at an edge too): of such a
   * loop (shorter than 8 radii and 4 voxels along the skeleton; `voxel`: the smallest voxel side,
   * radii are in nm) the edge nearest the surface goes (the skeleton is a maximum spanning forest by
   * the smaller radius of an edge's ends). Real loops (a torus's) are longer and stay. Then the
   * spurs to the seams go: a branch from a leaf to a fork that reaches a face two boxes share
   * (`onFace`) and whose vertices' balls (`scale` x radius, `resolution`: nm a voxel) each lie inside
   * the ball of a vertex of the skeleton near its fork: a tube's slivers across a box's edge or
   * corner, pinned at their faces; they cover nothing the rest does not. TEASAR's own branches stay,
   * as their targets lay outside every ball.
   */
  skeleton(voxel: number, resolution: Vec3, scale: number, onFace: (vertex: number[]) => boolean): Skeleton {
    this.sortByPosition();
    const n = this.radius.length;
    const length = (a: number, b: number) => Math.hypot(...[0, 1, 2].map((d) => this.vertices[3 * a + d] - this.vertices[3 * b + d]));
    const weight = ([a, b]: [number, number]) => Math.min(this.radius[a], this.radius[b]);
    const pairs = [...this.edges]
      .map((e) => e.split(',').map(Number) as [number, number])
      .sort((p, q) => weight(q) - weight(p) || length(...p) - length(...q) || p[0] - q[0] || p[1] - q[1]);
    // Kruskal: the central edges first.
    const root = Int32Array.from({ length: n }, (_, i) => i);
    const find = (i: number): number => {
      while (root[i] !== i) i = root[i] = root[root[i]];
      return i;
    };
    const tree = pairs.map(([a, b]) => {
      const [x, y] = [find(a), find(b)];
      if (x === y) return false;
      root[x] = y;
      return true;
    });
    const adjacency: number[][] = Array.from({ length: n }, () => []);
    pairs.forEach(([a, b], e) => tree[e] && (adjacency[a].push(b), adjacency[b].push(a)));
    // Each vertex's parent, depth and distance from its tree's root (breadth first).
    const parent = new Int32Array(n).fill(-2),
      depth = new Int32Array(n),
      along = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      if (parent[r] !== -2) continue;
      parent[r] = -1;
      const queue = [r];
      for (let q = 0; q < queue.length; q++)
        for (const u of adjacency[queue[q]])
          if (parent[u] === -2) {
            parent[u] = queue[q];
            depth[u] = depth[queue[q]] + 1;
            along[u] = along[queue[q]] + length(u, queue[q]);
            queue.push(u);
          }
    }
    const kept = pairs.filter(([a, b], e) => {
      if (tree[e]) return true;
      // Up both sides to where they meet, the largest radius on the way.
      let [x, y] = [a, b];
      let radius = Math.max(this.radius[a], this.radius[b]);
      while (x !== y) {
        if (depth[x] >= depth[y]) x = parent[x];
        else y = parent[y];
        radius = Math.max(radius, this.radius[x], this.radius[y]);
      }
      const loop = along[a] + along[b] - 2 * along[x] + length(a, b);
      return loop > (8 * radius) / voxel + 4;
    });
    return this.withoutSeamSpurs(kept, resolution, scale, (k) => onFace(this.vertices.slice(3 * k, 3 * k + 3)));
  }

  /** Vertices in position order (z, y, x), so that the skeleton does not depend on the order its pieces were read in. */
  private sortByPosition(): void {
    const n = this.radius.length;
    const v = this.vertices.slice(),
      radius = this.radius.slice();
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => v[3 * a + 2] - v[3 * b + 2] || v[3 * a + 1] - v[3 * b + 1] || v[3 * a] - v[3 * b]);
    const rank = new Int32Array(n);
    order.forEach((old, k) => {
      rank[old] = k;
      for (let d = 0; d < 3; d++) this.vertices[3 * k + d] = v[3 * old + d];
      this.radius[k] = radius[old];
    });
    const edges = [...this.edges].map((e) => e.split(',').map((i) => rank[Number(i)]));
    this.edges.clear();
    for (const [a, b] of edges) this.edges.add(a < b ? `${a},${b}` : `${b},${a}`);
    this.at.clear();
  }

  private withoutSeamSpurs(edges: [number, number][], resolution: Vec3, scale: number, onFace: (k: number) => boolean): Skeleton {
    const n = this.radius.length;
    const nm = (a: number, b: number) => Math.hypot(...[0, 1, 2].map((d) => (this.vertices[3 * a + d] - this.vertices[3 * b + d]) * resolution[d]));
    const neighbours: Set<number>[] = Array.from({ length: n }, () => new Set());
    for (const [a, b] of edges) (neighbours[a].add(b), neighbours[b].add(a));
    const gone = new Uint8Array(n);
    for (let changed = true; changed;) {
      changed = false;
      for (let leaf = 0; leaf < n; leaf++) {
        if (gone[leaf] || neighbours[leaf].size !== 1) continue;
        const branch = [leaf];
        let seam = onFace(leaf),
          fork = -1;
        for (let prev = -1, k = leaf; ;) {
          const next = [...neighbours[k]].find((u) => u !== prev)!;
          [prev, k] = [k, next];
          if (neighbours[k].size !== 2) {
            fork = k;
            break;
          }
          branch.push(k);
          seam ||= onFace(k);
        }
        if (!seam || neighbours[fork].size < 3) continue;
        // The skeleton near the fork (along it, off the branch, as far as 2 balls of the fork).
        const inBranch = new Set(branch);
        const reach = 2 * scale * this.radius[fork] + 2 * Math.max(...resolution);
        const near = new Map<number, number>([[fork, 0]]);
        const queue = [fork];
        for (let q = 0; q < queue.length; q++)
          for (const u of neighbours[queue[q]]) {
            const along = near.get(queue[q])! + nm(queue[q], u);
            if (!inBranch.has(u) && !near.has(u) && along <= reach) (near.set(u, along), queue.push(u));
          }
        // Each branch vertex's ball inside the ball of one of those: pruned, nothing is left uncovered.
        const inside = (k: number) => [...near.keys()].some((u) => nm(k, u) <= scale * (this.radius[u] - this.radius[k]));
        if (!branch.every(inside)) continue;
        for (const k of branch) {
          gone[k] = 1;
          for (const u of neighbours[k]) neighbours[u].delete(k);
          neighbours[k].clear();
        }
        changed = true;
      }
    }
    // The vertices left, renumbered.
    const index = new Int32Array(n).fill(-1);
    const vertices: number[] = [],
      radius: number[] = [];
    for (let k = 0; k < n; k++)
      if (!gone[k]) {
        index[k] = radius.length;
        vertices.push(this.vertices[3 * k], this.vertices[3 * k + 1], this.vertices[3 * k + 2]);
        radius.push(this.radius[k]);
      }
    const kept = edges.filter(([a, b]) => !gone[a] && !gone[b]).flatMap(([a, b]) => [index[a], index[b]]);
    return { vertices: Float32Array.from(vertices), edges: Uint32Array.from(kept), radius: Float32Array.from(radius) };
  }
}

async function runMerge(task: SkeletonMergeTask, ctx: TaskContext) {
  const volume = await ctx.open(task.layer_path);
  const what = 'SkeletonMerge task';
  const { dir, sharding } = await skeletonDirectory(volume, what);
  const { groups } = mergeGroups(sharding, task.batches, what);
  if (task.group >= groups) throw new InvalidInput(`${what}: group ${task.group} is past the ${groups} ${sharding ? 'shards' : 'batches'}`);
  if (!task.gather_block !== !task.gather_groups) throw new InvalidInput(`${what}: gather_block and gather_groups go together`);
  const joined = new Map<bigint, JoinedSkeleton>();
  const r = task.gather_groups ? Math.floor(task.group / task.gather_groups) : 0;
  const gathered = task.gather_block && task.gather_groups ? { first: r * task.gather_groups } : undefined;
  const hint = gathered ? 'run the SkeletonGather tasks first' : 'run the Skeletonize tasks first';
  for (const chunks of chunkBlocks(volume, task.block * (task.gather_block ?? 1))) {
    // A gather block's object (one entry of its dense index), or a box's (its whole index); then the group's bytes.
    const dataKey = gathered ? gatherKey(dir, chunks, r, 'pieces') : piecesKey(dir, chunks, 'pieces');
    const indexKey = gathered ? gatherKey(dir, chunks, r, 'index') : piecesKey(dir, chunks, 'index');
    const part = await readGroupPart(volume, what, { indexKey, dataKey, group: task.group, groups, ...gathered }, hint);
    if (part) decodePieces(part.bytes, part.range, `${volume.url}/${dataKey}`, joined);
  }
  const ids = [...joined.keys()].sort((a, b) => (a < b ? -1 : 1));
  const voxel = Math.min(...volume.scale(0).resolution);
  // Stored coordinates are voxel centres from the volume's offset; the boxes' shared faces lie on their grid.
  const size = volume.bounds(0).stop.map((s, d) => s - volume.bounds(0).start[d]);
  const side = chunkSize(volume.scale(0)).map((c) => c * task.block);
  const onFace = (p: number[]) => p.some((x, d) => x - 0.5 > 0 && x - 0.5 < size[d] && (x - 0.5) % side[d] === 0);
  const entries = ids.map((id) => ({
    id,
    bytes: encodeSkeleton(joined.get(id)!.skeleton(voxel, volume.scale(0).resolution as Vec3, task.scale ?? DEFAULT_TEASAR.scale, onFace)),
  }));
  if (sharding) {
    if (entries.length > 0) await new ShardedKvStore(volume.store, dir, sharding, entries.length).writeShard(task.group, entries);
  } else for (const { id, bytes } of entries) await volume.store.put(`${dir}/${id}`, bytes, { contentType: 'application/octet-stream' });
  return { kind: 'skeleton_merge', voxels: 0, chunksWritten: 0, files: sharding ? Math.min(1, entries.length) : entries.length, segments: ids.length };
}

/**
 * The records of pieces bytes (`count` of them, or as many as there are), each as its id and its
 * bytes, checked against the bytes' end.
 */
function splitRecords(bytes: Uint8Array, count: number, where: string): { id: bigint; bytes: Uint8Array }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: { id: bigint; bytes: Uint8Array }[] = [];
  let o = 0;
  while (out.length < count && o < bytes.length) {
    if (o + 16 > bytes.length) throw new CorruptData(`${where}: the bytes end inside a record`);
    const id = view.getBigUint64(o, true);
    const n = view.getUint32(o + 8, true),
      e = view.getUint32(o + 12, true);
    const end = o + 16 + 4 * (4 * n + 2 * e);
    if (end > bytes.length) throw new CorruptData(`${where}: segment ${id}'s ${n} vertices and ${e} edges pass the bytes' end`);
    out.push({ id, bytes: bytes.subarray(o, end) });
    o = end;
  }
  if (o !== bytes.length || (count !== Infinity && out.length !== count))
    throw new CorruptData(`${where}: ${out.length} of ${count} records in ${o} of ${bytes.length} bytes`);
  return out;
}

/**
 * One gather block's Skeletonize objects, one range of groups: each box's part of that range (two
 * entries of its .ranges, then one byte range), its records sorted by group again (then segment,
 * then box) into one object with a dense index.
 */
async function runGather(task: SkeletonGatherTask, ctx: TaskContext) {
  const volume = await ctx.open(task.layer_path);
  const what = 'SkeletonGather task';
  const { dir, sharding } = await skeletonDirectory(volume, what);
  const { groups, groupOf } = mergeGroups(sharding, task.batches, what);
  const ranges = Math.ceil(groups / task.gather_groups);
  const blocks = chunkBlockCount(volume, task.block * task.gather_block);
  if (task.part >= blocks * ranges) throw new InvalidInput(`${what}: part ${task.part} is past the ${blocks} blocks x ${ranges} group ranges`);
  const range = task.part % ranges;
  const first = range * task.gather_groups;
  const chunks = chunkBlockAt(volume, task.block * task.gather_block, Math.floor(task.part / ranges));
  const records: { group: number; id: bigint; bytes: Uint8Array }[] = [];
  const step = chunkSize(volume.scale(0)).map((c) => c * task.block) as Vec3;
  for (const box of boxesIn(chunks, step)) {
    const key = piecesKey(dir, box, 'pieces');
    const bytes = await readRangePart(volume, what, piecesKey(dir, box, 'ranges'), key, range, 'run the Skeletonize tasks first');
    if (!bytes) continue;
    for (const r of splitRecords(bytes, Infinity, `${volume.url}/${key}: group range ${range}`)) {
      const group = groupOf(r.id);
      if (group < first || group >= first + task.gather_groups)
        throw new CorruptData(`${what}: segment ${r.id} of group ${group} is in ${volume.url}/${key}'s group range ${range}`);
      records.push({ group, ...r });
    }
  }
  // (Sorting is stable: a segment's records stay in box order.)
  records.sort((a, b) => a.group - b.group || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const pieces = new Uint8Array(records.reduce((n, r) => n + r.bytes.length, 0));
  const present: GroupRange[] = [];
  let o = 0;
  for (const r of records) {
    if (present.at(-1)?.group !== r.group) present.push({ group: r.group, segments: 0, offset: o, length: 0 });
    pieces.set(r.bytes, o);
    o += r.bytes.length;
    present.at(-1)!.segments++;
    present.at(-1)!.length = o - present.at(-1)!.offset;
  }
  await volume.store.put(gatherKey(dir, chunks, range, 'pieces'), pieces, { contentType: 'application/octet-stream' });
  await volume.store.put(gatherKey(dir, chunks, range, 'index'), encodeDenseIndex(present, first, Math.min(task.gather_groups, groups - first)), {
    contentType: 'application/octet-stream',
  });
  return { kind: 'skeleton_gather', voxels: 0, chunksWritten: 0, files: 2, segments: new Set(records.map((r) => r.id)).size };
}

function decodePieces(bytes: Uint8Array, range: GroupRange, where: string, into: Map<bigint, JoinedSkeleton>): void {
  for (const record of splitRecords(bytes, range.segments, `${where}: group ${range.group}`)) {
    const view = new DataView(record.bytes.buffer, record.bytes.byteOffset, record.bytes.byteLength);
    const id = record.id;
    const n = view.getUint32(8, true),
      e = view.getUint32(12, true);
    let o = 16;
    const vertices = new Float32Array(3 * n),
      edges = new Uint32Array(2 * e),
      radius = new Float32Array(n);
    for (let i = 0; i < vertices.length; i++, o += 4) vertices[i] = view.getFloat32(o, true);
    for (let i = 0; i < edges.length; i++, o += 4) {
      edges[i] = view.getUint32(o, true);
      if (edges[i] >= n) throw new CorruptData(`${where}: segment ${id} has an edge on vertex ${edges[i]} of ${n}`);
    }
    for (let i = 0; i < n; i++, o += 4) radius[i] = view.getFloat32(o, true);
    let joined = into.get(id);
    if (!joined) into.set(id, (joined = new JoinedSkeleton()));
    joined.add(vertices, edges, radius);
  }
}
