// Multi-resolution meshes (mesh/multires.ts has the format) in two stages:
// - MeshForge, per box of whole mip 0 chunks: the lod 0 fragment of every segment in each octree node
//   of the box (nodes are chunk-sized, shifted by the one-voxel padding: chunk-mesher's nodeRegion),
//   written as one object and a small index of the merge groups in it (mesh/forge-object.ts), under
//   `<mesh dir>/forge/`.
// - MeshGather, in large plans, per block of forge objects and range of groups: their parts of that
//   range as one object (mesh/forge-object.ts), so that a merge reads a few thousand objects, not
//   every forge object (at 100 TB: 3.8 M forge objects x 2 M shards = 10^13 reads without it).
// - MeshMerge, per group (a shard, or a batch of segment ids when unsharded): reads its byte range of
//   every forge (or gather) object (found from the grid, nothing listed), builds each segment's lods and
//   Draco fragments, and writes them: the shard whole in one put, or per segment `<id>` (fragments)
//   then `<id>.index` (manifest).
import { box, Box, chunkKey, copyRegion, intersect, parseChunkKey, shapeOf, union, Vec3, voxelCount } from '../common/box.js';
import { asLabels } from '../common/dtype.js';
import { CorruptData, InvalidInput } from '../common/errors.js';
import { count, integer } from '../common/schema.js';
import { meshChunk, MeshRegion, nodeGrid, nodeRegion } from '../mesh/chunk-mesher.js';
import { decodeAllSegments, decodeGroup, encodeDenseIndex, encodeForgeObject, encodeRangeTable, ForgedSegment } from '../mesh/forge-object.js';
import { buildLods, encodeSegment, OctreeGeometry } from '../mesh/multires.js';
import { assertChunkUnion, chunkSize, gridShape } from '../precomputed/info.js';
import { ShardedKvStore } from '../precomputed/sharded-store.js';
import { ShardingSpec } from '../precomputed/sharding.js';
import { Volume } from '../precomputed/volume.js';
import { boxKey, text } from './fields.js';
import { defineTask, TaskOf } from './kind.js';
import { meshDirectory } from './mesh.js';
import * as v from 'valibot';
import type { TaskContext } from './context.js';
import { boxesIn, chunkBlockAt, chunkBlockCount, chunkBlocks, mergeGroups, readDirectoryInfo, readGroupPart, readRangePart } from './segment-objects.js';

export const MULTIRES_MESH_TYPE = 'neuroglancer_multilod_draco';
/** Lods a segment gets at most: 2^9 chunks a side is past any volume's extent in nodes of 64. */
export const DEFAULT_MAX_LODS = 10;
/** The largest fragment data and manifest a segment may have (Neuroglancer's decoder fails near 512 MB). */
const MAX_SEGMENT_BYTES = 256 << 20;

const forgeFields = {
  layer_path: text,
  /** Whole mip 0 chunks, `x0-x1_y0-y1_z0-z1` in voxels: the octree nodes of these chunks. */
  chunk_position: boxKey,
  /** Unsharded meshes: segment id mod batches is the merge task that takes it. */
  batches: v.optional(integer(1, 2 ** 30)),
  /** Gathered plans: groups a gather range holds (the forge task then writes where each range starts). */
  gather_groups: v.optional(integer(1, 2 ** 30)),
};
export const meshForge = defineTask('mesh_forge', 'MeshForge task', forgeFields, {
  id: (task) => `mesh_forge:${task.layer_path}:${task.chunk_position}`,
  run: runForge,
});
export type MeshForgeTask = TaskOf<'mesh_forge', typeof forgeFields>;

const mergeFields = {
  layer_path: text,
  /** The shard (sharded) or batch (unsharded) to write. */
  group: count,
  /** Unsharded: how many batches the ids are split into (as the forge tasks were told). */
  batches: v.optional(integer(1, 2 ** 30)),
  /** Chunks a side of the forge tasks' boxes (their grid over mip 0). */
  forge_block: integer(1, 2 ** 20),
  /** Most lods a segment gets. Default DEFAULT_MAX_LODS. */
  lods: v.optional(integer(1, 32)),
  /** Gathered plans: forge boxes a side of a gather block, and the groups of a gather range. */
  gather_block: v.optional(integer(1, 2 ** 20)),
  gather_groups: v.optional(integer(1, 2 ** 30)),
};
export const meshMerge = defineTask('mesh_merge', 'MeshMerge task', mergeFields, {
  id: (task) => `mesh_merge:${task.layer_path}:${task.group}`,
  run: runMerge,
});
export type MeshMergeTask = TaskOf<'mesh_merge', typeof mergeFields>;

const gatherFields = {
  layer_path: text,
  batches: v.optional(integer(1, 2 ** 30)),
  forge_block: integer(1, 2 ** 20),
  /** Forge boxes a side of a gather block. */
  gather_block: integer(1, 2 ** 20),
  /** Groups a range holds: range r is groups [r * gather_groups, (r + 1) * gather_groups). */
  gather_groups: integer(1, 2 ** 30),
  /** Which block and range: block * ranges + range (blocks x fastest over the grid of gather blocks). */
  part: count,
};
export const meshGather = defineTask('mesh_gather', 'MeshGather task', gatherFields, {
  id: (task) => `mesh_gather:${task.layer_path}:${task.part}`,
  run: runGather,
});
export type MeshGatherTask = TaskOf<'mesh_gather', typeof gatherFields>;

/** The multi-resolution mesh directory of a layer and its sharding (undefined: unsharded), checked. */
async function multiresMesh(volume: Volume, what: string): Promise<{ dir: string; sharding?: ShardingSpec }> {
  const dir = meshDirectory(volume, what);
  return { dir, sharding: await readDirectoryInfo(volume, dir, MULTIRES_MESH_TYPE, what, 'digest plan mesh --format multires') };
}

/** The octree of a layer's mip 0: chunk-sized lod 0 nodes from the padded volume's lower corner. */
export function octreeOf(volume: Volume): OctreeGeometry {
  const scale = volume.scale(0);
  return { gridOrigin: scale.voxel_offset.map((o) => o - 0.5) as Vec3, chunkShape: chunkSize(scale) };
}

const forgeKey = (dir: string, chunks: Box, ext: 'frags' | 'index' | 'ranges') => `${dir}/forge/${chunkKey(chunks)}.${ext}`;
const gatherKey = (dir: string, chunks: Box, range: number, ext: 'frags' | 'index') => `${dir}/forge/gather/${chunkKey(chunks)}.${range}.${ext}`;

/** A merge group's segment sizes: u64 id, u64 voxels per segment, ascending id. */
const sizesKey = (dir: string, group: number) => `${dir}/forge/sizes/${group}`;

async function runForge(task: MeshForgeTask, ctx: TaskContext) {
  const volume = await ctx.open(task.layer_path);
  const { dir, sharding } = await multiresMesh(volume, 'MeshForge task');
  const scale = volume.scale(0);
  const chunks = parseChunkKey(task.chunk_position, 'MeshForge task: chunk_position');
  assertChunkUnion(scale, chunks, 'MeshForge task: chunk_position');
  const bounds = volume.bounds(0);
  const size = chunkSize(scale);
  // The nodes of these chunks (node k holds chunk k's cubes shifted by one), and at the volume's upper
  // faces the nodes past the last chunk (the padding's cubes) where the grid of nodes has one more.
  const grid = gridShape(scale),
    nodes = nodeGrid(size, bounds);
  const first = chunks.start.map((s, d) => (s - bounds.start[d]) / size[d]) as Vec3;
  const last = chunks.stop.map((s, d) => Math.ceil((s - bounds.start[d]) / size[d])) as Vec3;
  const end = last.map((l, d) => (l === grid[d] ? nodes[d] : l)) as Vec3;
  const segments = new Map<bigint, ForgedSegment>();
  const segment = (label: bigint) => {
    let s = segments.get(label);
    if (!s) segments.set(label, (s = { fragments: [], voxels: 0 }));
    return s;
  };
  // One z layer of nodes at a time, read as one slab (their read boxes' union, zero outside the
  // volume), so each chunk is decoded once: a slab's top voxel plane is the next slab's bottom one
  // and is carried over instead of read again.
  let carried: { z: number; plane: Uint32Array | BigUint64Array } | undefined;
  for (let z = first[2]; z < end[2]; z++) {
    const layer: [Vec3, MeshRegion][] = [];
    for (let y = first[1]; y < end[1]; y++)
      for (let x = first[0]; x < end[0]; x++) {
        const region = nodeRegion([x, y, z], size, bounds);
        if (region) layer.push([[x, y, z], region]);
      }
    if (layer.length === 0) {
      carried = undefined;
      continue;
    }
    const slab = union(layer.map(([, r]) => r.readBox));
    const [sx, sy, sz] = shapeOf(slab);
    const fresh = intersect(slab, bounds);
    let labels: Uint32Array | BigUint64Array | undefined;
    if (carried && carried.z === slab.start[2] && carried.plane.length === sx * sy) {
      labels = carried.plane instanceof BigUint64Array ? new BigUint64Array(sx * sy * sz) : new Uint32Array(sx * sy * sz);
      new Uint8Array(labels.buffer).set(new Uint8Array(carried.plane.buffer)); // its bottom plane
      fresh.start[2] = Math.max(fresh.start[2], slab.start[2] + 1);
    }
    if (fresh.start[2] < fresh.stop[2]) {
      const data = asLabels(await volume.read(0, fresh));
      labels ??= data instanceof BigUint64Array ? new BigUint64Array(sx * sy * sz) : new Uint32Array(sx * sy * sz);
      copyRegion(data, fresh, labels, slab, fresh);
    }
    labels ??= new Uint32Array(sx * sy * sz);
    carried = { z: slab.stop[2] - 1, plane: labels.slice((sz - 1) * sx * sy) };
    for (const [node, region] of layer) {
      const nodeLabels = labels instanceof BigUint64Array ? new BigUint64Array(voxelCount(region.readBox)) : new Uint32Array(voxelCount(region.readBox));
      copyRegion(labels, slab, nodeLabels, region.readBox, region.readBox);
      // Voxels of chunk `node` (node k holds chunk k's voxels; the nodes past the last chunk none).
      const owned = intersect(
        box(node.map((k, d) => bounds.start[d] + k * size[d]) as Vec3, node.map((k, d) => bounds.start[d] + (k + 1) * size[d]) as Vec3),
        bounds,
      );
      if (owned.start.every((v, d) => v < owned.stop[d])) for (const [label, n] of countLabels(labels, slab, owned)) segment(label).voxels += n;
      // Resolution 1: positions in stored-model voxels, voxel v's centre at v + 0.5.
      for (const { label, mesh } of await meshChunk({ labels: nodeLabels, region, resolution: [1, 1, 1], simplification: 0 }))
        segment(label).fragments.push({ position: node, mesh });
    }
  }
  const { frags, index, groups } = encodeForgeObject(segments, mergeGroups(sharding, task.batches, 'MeshForge task').groupOf);
  // The fragments before their index: a merge that finds the index finds the fragments too.
  await volume.store.put(forgeKey(dir, chunks, 'frags'), frags, { contentType: 'application/octet-stream' });
  if (task.gather_groups) {
    const ranges = Math.ceil(mergeGroups(sharding, task.batches, 'MeshForge task').groups / task.gather_groups);
    await volume.store.put(forgeKey(dir, chunks, 'ranges'), encodeRangeTable(groups, frags.length, task.gather_groups, ranges), {
      contentType: 'application/octet-stream',
    });
  }
  await volume.store.put(forgeKey(dir, chunks, 'index'), index, { contentType: 'application/octet-stream' });
  return { kind: 'mesh_forge', voxels: voxelCount(chunks), chunksWritten: 0, files: task.gather_groups ? 3 : 2, segments: segments.size };
}

/** Voxels of each nonzero label within `region` of `data` (which covers `dataBox`). */
function countLabels(data: Uint32Array | BigUint64Array, dataBox: Box, region: Box): Map<bigint, number> {
  const counts = new Map<bigint, number>();
  const [sx, sy] = [0, 1].map((d) => dataBox.stop[d] - dataBox.start[d]);
  let last: bigint | number = 0,
    run = 0;
  const flush = () => {
    if (run > 0 && last !== 0 && last !== 0n) counts.set(BigInt(last), (counts.get(BigInt(last)) ?? 0) + run);
  };
  for (let z = region.start[2]; z < region.stop[2]; z++)
    for (let y = region.start[1]; y < region.stop[1]; y++) {
      const row = (y - dataBox.start[1]) * sx + (z - dataBox.start[2]) * sx * sy - dataBox.start[0];
      for (let x = region.start[0]; x < region.stop[0]; x++) {
        const l = data[row + x];
        if (l === last) run++;
        else {
          flush();
          last = l;
          run = 1;
        }
      }
    }
  flush();
  return counts;
}

/**
 * One gather block's forge objects, one range of groups: each forge object's part of that range
 * (two entries of its .ranges, then one byte range), written again as one object with a dense
 * index, so that a merge task reads an entry and a byte range per gather block.
 */
async function runGather(task: MeshGatherTask, ctx: TaskContext) {
  const volume = await ctx.open(task.layer_path);
  const what = 'MeshGather task';
  const { dir, sharding } = await multiresMesh(volume, what);
  const { groups, groupOf } = mergeGroups(sharding, task.batches, what);
  const ranges = Math.ceil(groups / task.gather_groups);
  const blocks = chunkBlockCount(volume, task.forge_block * task.gather_block);
  if (task.part >= blocks * ranges) throw new InvalidInput(`${what}: part ${task.part} is past the ${blocks} blocks x ${ranges} group ranges`);
  const range = task.part % ranges;
  const chunks = chunkBlockAt(volume, task.forge_block * task.gather_block, Math.floor(task.part / ranges));
  const segments = new Map<bigint, ForgedSegment>();
  const step = chunkSize(volume.scale(0)).map((c) => c * task.forge_block) as Vec3;
  for (const forge of boxesIn(chunks, step)) {
    const fragsKey = forgeKey(dir, forge, 'frags');
    const bytes = await readRangePart(volume, what, forgeKey(dir, forge, 'ranges'), fragsKey, range, 'run the MeshForge tasks first');
    if (bytes) decodeAllSegments(bytes, `${volume.url}/${fragsKey}: group range ${range}`, segments);
  }
  const first = range * task.gather_groups;
  const { frags, groups: present } = encodeForgeObject(segments, groupOf);
  for (const g of present)
    if (g.group < first || g.group >= first + task.gather_groups)
      throw new CorruptData(`${what}: a segment of group ${g.group} is in group range ${range}'s bytes`);
  await volume.store.put(gatherKey(dir, chunks, range, 'frags'), frags, { contentType: 'application/octet-stream' });
  await volume.store.put(gatherKey(dir, chunks, range, 'index'), encodeDenseIndex(present, first, Math.min(task.gather_groups, groups - first)), {
    contentType: 'application/octet-stream',
  });
  return { kind: 'mesh_gather', voxels: 0, chunksWritten: 0, files: 2, segments: segments.size };
}

/** A merge group's part of one forge object (its index, then a byte range), or of one gather object (an index entry, then a byte range). */
async function readForgePart(volume: Volume, dir: string, task: MeshMergeTask, chunks: Box, groups: number, into: Map<bigint, ForgedSegment>): Promise<void> {
  const r = task.gather_groups ? Math.floor(task.group / task.gather_groups) : 0;
  const gathered = task.gather_block && task.gather_groups ? { first: r * task.gather_groups } : undefined;
  const dataKey = gathered ? gatherKey(dir, chunks, r, 'frags') : forgeKey(dir, chunks, 'frags');
  const indexKey = gathered ? gatherKey(dir, chunks, r, 'index') : forgeKey(dir, chunks, 'index');
  const hint = gathered ? 'run the MeshGather tasks first' : 'run the MeshForge tasks first';
  const part = await readGroupPart(volume, 'MeshMerge task', { indexKey, dataKey, group: task.group, groups, ...gathered }, hint);
  if (part) decodeGroup(part.bytes, part.range, `${volume.url}/${dataKey}`, into);
}

async function runMerge(task: MeshMergeTask, ctx: TaskContext) {
  const volume = await ctx.open(task.layer_path);
  const what = 'MeshMerge task';
  const { dir, sharding } = await multiresMesh(volume, what);
  const { groups } = mergeGroups(sharding, task.batches, what);
  if (task.group >= groups) throw new InvalidInput(`${what}: group ${task.group} is past the ${groups} ${sharding ? 'shards' : 'batches'}`);
  if (!task.gather_block !== !task.gather_groups) throw new InvalidInput(`${what}: gather_block and gather_groups go together`);
  const segments = new Map<bigint, ForgedSegment>();
  for (const chunks of chunkBlocks(volume, task.forge_block * (task.gather_block ?? 1))) await readForgePart(volume, dir, task, chunks, groups, segments);
  const geometry = octreeOf(volume);
  const ids = [...segments.keys()].sort((a, b) => (a < b ? -1 : 1));
  const entries: { id: bigint; bytes: Uint8Array; prefix: Uint8Array }[] = [];
  const sizes = new BigUint64Array(2 * ids.length);
  let triangles = 0;
  for (const [i, id] of ids.entries()) {
    const { fragments, voxels } = segments.get(id)!;
    sizes[2 * i] = id;
    sizes[2 * i + 1] = BigInt(voxels);
    segments.delete(id); // its lod 0 meshes go into `lods` now; the map no longer needs them
    if (fragments.length === 0) throw new CorruptData(`${what}: segment ${id} has voxels but no lod 0 fragment in any forge object`);
    const lods = buildLods(fragments, geometry, task.lods ?? DEFAULT_MAX_LODS);
    triangles += lods[0].reduce((n, f) => n + f.mesh.triangles.length / 3, 0);
    const { manifest, data } = await encodeSegment(lods, geometry);
    if (data.length + manifest.length > MAX_SEGMENT_BYTES)
      throw new InvalidInput(
        `${what}: segment ${id} would take ${data.length + manifest.length} bytes, more than the ${MAX_SEGMENT_BYTES} a viewer can decode`,
      );
    if (sharding) entries.push({ id, bytes: manifest, prefix: data });
    else {
      await volume.store.put(`${dir}/${id}`, data, { contentType: 'application/octet-stream' });
      await volume.store.put(`${dir}/${id}.index`, manifest, { contentType: 'application/octet-stream' });
    }
  }
  if (sharding && entries.length > 0) await new ShardedKvStore(volume.store, dir, sharding, entries.length).writeShard(task.group, entries);
  // The group's segment sizes, for the SegmentProperties task (after the meshes: a size means a mesh).
  await volume.store.put(sizesKey(dir, task.group), new Uint8Array(sizes.buffer), { contentType: 'application/octet-stream' });
  return { kind: 'mesh_merge', voxels: 0, chunksWritten: 0, files: sharding ? Math.min(1, entries.length) : 2 * ids.length, segments: ids.length, triangles };
}

/** The most segments segment_properties lists (inline, one JSON file): the largest. */
export const MAX_SEGMENT_PROPERTIES = 100_000;

const propertiesFields = {
  layer_path: text,
  /** How many MeshMerge groups wrote sizes (shards, or batches). */
  groups: integer(1, 2 ** 30),
};
export const segmentProperties = defineTask('segment_properties', 'SegmentProperties task', propertiesFields, {
  id: (task) => `segment_properties:${task.layer_path}`,
  run: runSegmentProperties,
});
export type SegmentPropertiesTask = TaskOf<'segment_properties', typeof propertiesFields>;

/**
 * Neuroglancer segment_properties (inline) with each segment's voxels at mip 0, for the largest
 * MAX_SEGMENT_PROPERTIES segments, from the merge groups' sizes: the viewer can sort by size, and
 * `digest view` selects the largest.
 */
async function runSegmentProperties(task: SegmentPropertiesTask, ctx: TaskContext) {
  const volume = await ctx.open(task.layer_path);
  const what = 'SegmentProperties task';
  const { dir } = await multiresMesh(volume, what);
  const propertiesDir = volume.info.segment_properties;
  if (typeof propertiesDir !== 'string' || propertiesDir === '')
    throw new InvalidInput(`${what}: layer ${volume.url} has no "segment_properties" key in its info (digest plan mesh adds it)`);
  // The largest so far, kept to at most twice the limit and cut back (no list of every segment).
  let kept: { id: bigint; voxels: number }[] = [];
  const bySize = (a: { id: bigint; voxels: number }, b: { id: bigint; voxels: number }) => b.voxels - a.voxels || (a.id < b.id ? -1 : 1);
  for (let group = 0; group < task.groups; group++) {
    const key = sizesKey(dir, group);
    const bytes = await volume.store.get(key);
    if (!bytes) throw new InvalidInput(`${what}: ${volume.url}/${key} is missing (run the MeshMerge tasks first)`);
    if (bytes.length % 16 !== 0) throw new CorruptData(`${what}: ${volume.url}/${key} has ${bytes.length} bytes, not whole (id, voxels) pairs`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let o = 0; o < bytes.length; o += 16) kept.push({ id: view.getBigUint64(o, true), voxels: Number(view.getBigUint64(o + 8, true)) });
    if (kept.length > 2 * MAX_SEGMENT_PROPERTIES) kept = kept.sort(bySize).slice(0, MAX_SEGMENT_PROPERTIES);
  }
  kept = kept.sort(bySize).slice(0, MAX_SEGMENT_PROPERTIES);
  const info = {
    '@type': 'neuroglancer_segment_properties',
    inline: {
      ids: kept.map((s) => String(s.id)),
      properties: [{ id: 'voxels', type: 'number', data_type: 'float32', description: 'voxels at mip 0', values: kept.map((s) => s.voxels) }],
    },
  };
  await volume.store.put(`${propertiesDir.replace(/\/+$/, '')}/info`, new TextEncoder().encode(JSON.stringify(info)), { contentType: 'application/json' });
  return { kind: 'segment_properties', voxels: 0, chunksWritten: 0, files: 1 };
}
