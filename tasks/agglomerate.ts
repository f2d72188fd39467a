// The blockwise agglomeration of a watershed layer's region graph (affinities/agglomerate.ts and
// block-tree.ts have the method), as tasks over files in the watershed layer, under
// agglomeration/<threshold>/:
// - AgglomerateBlock, level by level up the tree: a block's children (chunk graphs from MeanGraph,
//   or the level below's block graphs) agglomerated; writes blocks-<N>/<level>/<x>_<y>_<z>.graph
//   (what it passes up) and .names (its children's regions and the regions they are in);
// - AgglomerateNames, level by level down from the root: a block's final names (its .final, from
//   its parent; none at the root) through its .names give each child's .final;
// - AgglomerateMapping, one task per shard of the mapping: each chunk's labels through its level 0
//   block's names and final names; the mapping (mapping/info, neuroglancer_uint64_sharded_v1 shard
//   files keyed by the chunk's compressed Morton code; a chunk's value: the (label, region) uint64
//   pairs of its labels that change, sorted) does not depend on the block size;
// - Remap: a box of whole chunks of the agglomerated layer written from the watershed layer through
//   the mapping values of its chunks (mip 0; the Downsample tasks make the mips above).
import * as v from 'valibot';
import { agglomerateBlock, decodeMapping, encodeMapping } from '../affinities/agglomerate.js';
import {
  BlockAt,
  blockCells,
  blockChildren,
  blockGrid,
  BlockTree,
  cellKey,
  checkTree,
  childBlocks,
  chunksOf,
  finalNames,
  leafBlockOf,
  NO_NAMES,
  rootLevel,
} from '../affinities/block-tree.js';
import { decodeNames, decodeRegionGraph, encodeNames, encodeRegionGraph, NameSection, RegionGraph } from '../affinities/region-graph.js';
import { box, Box, chunkKey, equals, intersect, parseChunkKey, voxelCount, Vec3 } from '../common/box.js';
import { asLabels } from '../common/dtype.js';
import { CorruptData, InvalidInput } from '../common/errors.js';
import { integer, parseJson } from '../common/schema.js';
import { assertChunkUnion, chunkBox, chunkSize, chunksWithin, gridShape, scaleBounds } from '../precomputed/info.js';
import { ShardedScale } from '../precomputed/sharded-scale.js';
import { shardingSchema, ShardingSpec } from '../precomputed/sharding.js';
import { Volume } from '../precomputed/volume.js';
import { MAX_SMALL_JSON_BYTES, Store } from '../storage/store.js';
import { boxKey, count, text } from './fields.js';
import { defineTask, TaskOf } from './kind.js';
import { chunkGraphKey, maxChunkGraphBytes } from './mean-graph.js';

const threshold = v.pipe(v.number('must be a number'), v.minValue(0, 'must be at least 0'), v.maxValue(1, 'must be at most 1'));

/** Where a threshold's agglomeration lives in the watershed layer ("0.2" -> agglomeration/0.2). */
export function agglomerationDir(t: number): string {
  return `agglomeration/${t}`;
}
export function mappingDir(t: number): string {
  return `${agglomerationDir(t)}/mapping`;
}

/** The largest block graph or name table a task reads: what one block may hold. */
const MAX_BLOCK_FILE_BYTES = 1 << 30;
// ---- the tree in a layer

const blockFields = {
  layer_path_segmentation: text,
  threshold,
  /** Chunks a side of a level 0 block. */
  block: integer(1, 2 ** 20),
  level: integer(0, 60),
  /** The block, `x0-x1_y0-y1_z0-z1` in mip-0 voxels (its chunks, clipped to the volume). */
  block_position: boxKey,
};
type BlockFields = TaskOf<'agglomerate_block', typeof blockFields>;

interface BlockContext {
  segmentation: Volume;
  tree: BlockTree;
  block: BlockAt;
  dir: string;
  label: string;
}

async function blockContext(task: Omit<BlockFields, 'kind'>, label: string, open: (url: string) => Promise<Volume>): Promise<BlockContext> {
  const segmentation = await open(task.layer_path_segmentation);
  const scale = segmentation.scale(0);
  const tree = checkTree({ grid: gridShape(scale), leaf: task.block });
  const top = rootLevel(tree);
  if (task.level > top) throw new InvalidInput(`${label}: level ${task.level} is above the root's ${top} for blocks of ${task.block} chunks`);
  const b = parseChunkKey(task.block_position, `${label}: block_position`);
  const c = chunkSize(scale);
  const side = task.block * 2 ** task.level;
  const index = b.start.map((s, d) => (s - scale.voxel_offset[d]) / (side * c[d])) as Vec3;
  const block = { level: task.level, index };
  if (
    !index.every((i, d) => Number.isInteger(i) && i >= 0 && i < blockGrid(tree, task.level)[d]) ||
    !equals(b, cellsBox(segmentation, blockCells(tree, block)))
  ) {
    throw new InvalidInput(`${label}: block_position ${task.block_position} is not a level ${task.level} block of ${task.block} chunks`);
  }
  return { segmentation, tree, block, dir: `${agglomerationDir(task.threshold)}/blocks-${task.block}`, label };
}

/** The voxel box of chunk cells [start, stop), clipped to the volume. */
function cellsBox(segmentation: Volume, cells: { start: Vec3; stop: Vec3 }): Box {
  const scale = segmentation.scale(0);
  return box(chunkBox(scale, cells.start).start, chunkBox(scale, cells.stop.map((s) => s - 1) as Vec3).stop);
}

/** A block's files: <dir>/<level>/<x>_<y>_<z>.<ext>. */
function blockKey(dir: string, b: BlockAt, ext: 'graph' | 'names' | 'final'): string {
  return `${dir}/${b.level}/${b.index.join('_')}.${ext}`;
}

async function readFile(store: Store, key: string, maxBytes: number, missing: string): Promise<Uint8Array> {
  const bytes = await store.get(key, { maxBytes });
  if (!bytes) throw new InvalidInput(`${store.url}/${key} is missing (${missing})`);
  return bytes;
}

export const agglomerateBlockTask = defineTask('agglomerate_block', 'AgglomerateBlock task', blockFields, {
  id: (task) => `agglomerate_block:${task.layer_path_segmentation}:${task.threshold}:${task.block}:${task.level}:${task.block_position}`,
  async run(task, ctx) {
    const bc = await blockContext(task, 'AgglomerateBlock task', ctx.open);
    const { segmentation, tree, block, dir } = bc;
    const store = segmentation.store;
    const scale = segmentation.scale(0);
    const wanted: { key: string; kind: 'chunk' | 'block'; maxBytes: number; missing: string }[] = [];
    if (block.level === 0) {
      for (const cell of chunksOf(tree, block)) {
        const chunk = chunkBox(scale, cell);
        wanted.push({ key: chunkGraphKey(chunk), kind: 'chunk', maxBytes: maxChunkGraphBytes(chunk), missing: 'run the MeanGraph tasks first' });
      }
    } else {
      for (const c of childBlocks(tree, block))
        wanted.push({
          key: blockKey(dir, c, 'graph'),
          kind: 'block',
          maxBytes: MAX_BLOCK_FILE_BYTES,
          missing: `run the level ${c.level} AgglomerateBlock tasks first`,
        });
    }
    // One file at a time: a task holds its children's edges once, never their files beside them.
    const graphs: RegionGraph[] = [];
    for (const w of wanted) graphs.push(decodeRegionGraph(await readFile(store, w.key, w.maxBytes, w.missing), `${store.url}/${w.key}`, w.kind));
    let i = 0;
    const children = blockChildren(tree, block, () => graphs[i++]);
    graphs.length = 0;
    const result = agglomerateBlock(children, task.threshold, true);
    // The root passes nothing up: its graph is empty by construction.
    const puts = [store.put(blockKey(dir, block, 'names'), encodeNames(result.names))];
    if (block.level < rootLevel(tree)) puts.push(store.put(blockKey(dir, block, 'graph'), encodeRegionGraph(result.graph)));
    await Promise.all(puts);
    return { kind: 'agglomerate_block', voxels: 0, chunksWritten: 0, files: puts.length };
  },
});
export type AgglomerateBlockTask = BlockFields;

/** A block's final names: from its parent (.final), none at the root. */
async function finalsOf(store: Store, tree: BlockTree, dir: string, b: BlockAt): Promise<NameSection> {
  if (b.level === rootLevel(tree)) return NO_NAMES;
  const key = blockKey(dir, b, 'final');
  const [section] = decodeNames(
    await readFile(store, key, MAX_BLOCK_FILE_BYTES, `run the level ${b.level + 1} AgglomerateNames tasks first`),
    `${store.url}/${key}`,
  );
  if (!section) throw new CorruptData(`${store.url}/${key}: a final name table has one section, this has none`);
  return section;
}

async function namesOf(store: Store, dir: string, b: BlockAt, children: number): Promise<NameSection[]> {
  const key = blockKey(dir, b, 'names');
  const names = decodeNames(await readFile(store, key, MAX_BLOCK_FILE_BYTES, `run the level ${b.level} AgglomerateBlock tasks first`), `${store.url}/${key}`);
  if (names.length !== children) throw new CorruptData(`${store.url}/${key}: ${names.length} sections for a block of ${children} children`);
  return names;
}

const namesFields = { ...blockFields, level: integer(1, 60) };
export const agglomerateNamesTask = defineTask('agglomerate_names', 'AgglomerateNames task', namesFields, {
  id: (task) => `agglomerate_names:${task.layer_path_segmentation}:${task.threshold}:${task.block}:${task.level}:${task.block_position}`,
  async run(task, ctx) {
    const { segmentation, tree, block, dir } = await blockContext(task, 'AgglomerateNames task', ctx.open);
    const store = segmentation.store;
    const children = childBlocks(tree, block);
    const [finals, names] = await Promise.all([finalsOf(store, tree, dir, block), namesOf(store, dir, block, children.length)]);
    await Promise.all(children.map((c, i) => store.put(blockKey(dir, c, 'final'), encodeNames([finalNames(names[i], finals)]))));
    return { kind: 'agglomerate_names', voxels: 0, chunksWritten: 0, files: children.length };
  },
});
export type AgglomerateNamesTask = TaskOf<'agglomerate_names', typeof namesFields>;

// ---- the mapping

const mappingInfoSchema = v.object({
  '@type': v.literal('digest_agglomeration_mapping'),
  /** The chunk grid of the watershed layer's mip 0. */
  grid: v.tuple([count, count, count]),
  sharding: shardingSchema,
});
export type MappingInfo = v.InferOutput<typeof mappingInfoSchema>;

export function mappingInfo(grid: Vec3, sharding: ShardingSpec): MappingInfo {
  return { '@type': 'digest_agglomeration_mapping', grid, sharding };
}

async function openMapping(segmentation: Volume, t: number, label: string): Promise<ShardedScale> {
  const key = `${mappingDir(t)}/info`;
  const where = `${segmentation.url}/${key}`;
  const bytes = await segmentation.store.get(key, { maxBytes: MAX_SMALL_JSON_BYTES });
  if (!bytes) throw new InvalidInput(`${label}: no mapping ${where} (plan agglomerate writes it; then run its tasks)`);
  const info = parseJson(mappingInfoSchema, new TextDecoder().decode(bytes), where);
  const grid = gridShape(segmentation.scale(0));
  if (info.grid.some((g, d) => g !== grid[d])) throw new InvalidInput(`${label}: ${where} is for a chunk grid of [${info.grid}], the layer's is [${grid}]`);
  return new ShardedScale(segmentation.store, mappingDir(t), info.sharding, grid);
}

const mappingFields = { layer_path_segmentation: text, threshold, block: integer(1, 2 ** 20), shard: count };
export const agglomerateMappingTask = defineTask('agglomerate_mapping', 'AgglomerateMapping task', mappingFields, {
  id: (task) => `agglomerate_mapping:${task.layer_path_segmentation}:${task.threshold}:${task.shard}`,
  async run(task, ctx) {
    const label = 'AgglomerateMapping task';
    const segmentation = await ctx.open(task.layer_path_segmentation);
    const store = segmentation.store;
    const tree = checkTree({ grid: gridShape(segmentation.scale(0)), leaf: task.block });
    const mapping = await openMapping(segmentation, task.threshold, label);
    const cells = mapping.cellsOf(task.shard);
    if (cells.length === 0) return { kind: 'agglomerate_mapping', voxels: 0, chunksWritten: 0, files: 0 };
    const dir = `${agglomerationDir(task.threshold)}/blocks-${task.block}`;
    // Each level 0 block's names and final names, read once for all of its chunks in the shard.
    const blocks = new Map<string, Promise<{ names: Map<bigint, NameSection>; finals: NameSection }>>();
    const blockOf = (cell: Vec3) => {
      const b = leafBlockOf(tree, cell);
      let p = blocks.get(b.index.join('_'));
      if (!p) {
        const chunks = blockCells(tree, b);
        const n = chunks.stop.reduce((s, x, d) => s * (x - chunks.start[d]), 1);
        p = Promise.all([namesOf(store, dir, b, n), finalsOf(store, tree, dir, b)]).then(([names, finals]) => ({
          names: new Map(names.map((s) => [s.key, s])),
          finals,
        }));
        blocks.set(b.index.join('_'), p);
      }
      return p;
    };
    const entries = await Promise.all(
      cells.map(async (cell) => {
        const { names, finals } = await blockOf(cell);
        const section = names.get(cellKey(cell, tree.grid));
        if (!section) throw new CorruptData(`${label}: the names of chunk ${cell} are missing from its block's ${dir} name table`);
        const final = finalNames(section, finals);
        const m = new Map<bigint, bigint>();
        for (let i = 0; i < final.from.length; i++) m.set(final.from[i], final.to[i]);
        return { id: mapping.idOf(cell), bytes: encodeMapping(m) };
      }),
    );
    await mapping.writeShard(task.shard, entries);
    return { kind: 'agglomerate_mapping', voxels: 0, chunksWritten: 0, files: 1 };
  },
});
export type AgglomerateMappingTask = TaskOf<'agglomerate_mapping', typeof mappingFields>;

// ---- remap

const remapFields = {
  /** Whole chunks of mip 0, `x0-x1_y0-y1_z0-z1`. */
  chunk_position: boxKey,
  /** The watershed layer, which holds the mapping. */
  layer_path_segmentation: text,
  /** The agglomerated layer written. */
  layer_path: text,
  threshold,
};
export const remapTask = defineTask('remap', 'Remap task', remapFields, {
  id: (task) => `remap:${task.layer_path}:${task.chunk_position}`,
  async inputs(task, open) {
    const source = await open(task.layer_path_segmentation);
    return source.chunkObjects(0, parseChunkKey(task.chunk_position));
  },
  async run(task, ctx) {
    const [source, target] = await Promise.all([ctx.open(task.layer_path_segmentation), ctx.open(task.layer_path)]);
    if (source.info.data_type !== target.info.data_type) {
      throw new InvalidInput(`Remap task: layer_path ${target.url} is ${target.info.data_type}, the watershed ${source.url} is ${source.info.data_type}`);
    }
    const region = parseChunkKey(task.chunk_position, 'Remap task: chunk_position');
    assertChunkUnion(target.scale(0), region, 'Remap task: chunk_position');
    const mapping = await loadMapping(source, task.threshold, region);
    const labels = asLabels(await source.read(0, region));
    remapInPlace(labels, mapping);
    const written = await target.writeWithin(0, region, labels);
    return { kind: 'remap', voxels: voxelCount(region), chunksWritten: written };
  },
});
export type RemapTask = TaskOf<'remap', typeof remapFields>;

/** The mapping values of the chunks of `region`, as one map (a label's region is the same in every chunk). */
export async function loadMapping(source: Volume, t: number, region: Box): Promise<Map<bigint, bigint>> {
  const scale = source.scale(0);
  const mapping = await openMapping(source, t, 'Remap task');
  const c = chunkSize(scale);
  const out = new Map<bigint, bigint>();
  const chunks = chunksWithin(scale, intersect(region, scaleBounds(scale)));
  const values = await Promise.all(
    chunks.map(async (chunk) => {
      const cell = chunk.start.map((s, d) => (s - scale.voxel_offset[d]) / c[d]) as Vec3;
      // A chunk's value holds at most one pair per voxel.
      const bytes = await mapping.readChunk(cell, 16 * voxelCount(chunk));
      if (!bytes)
        throw new InvalidInput(`Remap task: ${source.url}/${mappingDir(t)} has no value for chunk ${chunkKey(chunk)} (run the AgglomerateMapping tasks first)`);
      return { bytes, where: `${source.url}/${mapping.shardKey(mapping.shardOf(cell))} (chunk ${chunkKey(chunk)})` };
    }),
  );
  for (const { bytes, where } of values) decodeMapping(bytes, where, out);
  return out;
}

/** Replaces each label by its region id; runs of one label cost one lookup. */
export function remapInPlace(labels: Uint32Array | BigUint64Array, mapping: Map<bigint, bigint>): void {
  if (labels instanceof BigUint64Array) {
    let last = -1n,
      to = 0n;
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i];
      if (l !== last) {
        last = l;
        to = mapping.get(l) ?? l;
      }
      labels[i] = to;
    }
    return;
  }
  let last = -1,
    to = 0;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l !== last) {
      last = l;
      to = Number(mapping.get(BigInt(l)) ?? BigInt(l));
    }
    labels[i] = to;
  }
}
