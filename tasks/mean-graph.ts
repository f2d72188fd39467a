// MeanGraph: the mean-affinity region graph of one box of whole segmentation chunks, written to
// `mean_graph/chunks/<chunk_position>.json` in the segmentation layer; MeanGraphReduce merges every
// chunk file into `mean_graph/graph.json` (affinities/mean-graph.ts has the format).
// Each voxel edge is counted by exactly one task: the one whose box holds its upper voxel. So a task
// reads one voxel below its box (the lower ends of its edges), and the merged sums are exact.
import { InvalidInput, TransientError } from '../common/errors.js';
import { decodeGraph, encodeGraph, meanGraph, mergeGraphs } from '../affinities/mean-graph.js';
import { kernels } from '../kernels/backend.js';
import { box, Box, intersect, isBoxKey, parseChunkKey, voxelCount, Vec3 } from '../common/box.js';
import { asLabels } from '../common/dtype.js';
import { assertChunkUnion, chunksWithin, chunkSize, gridShape } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { listAll, MAX_JSON_BYTES } from '../storage/store.js';
import { checkAffinityValues, openAffinityLayers } from './affinity-layers.js';
import { boxKey, text } from './fields.js';
import { defineTask, TaskOf } from './kind.js';
import type { TaskContext } from './context.js';

export const GRAPH_CHUNKS = 'mean_graph/chunks';
export const GRAPH_FILE = 'mean_graph/graph.json';
const LABEL = 'MeanGraph task';

const graphFields = {
  /** Whole segmentation chunks, `x0-x1_y0-y1_z0-z1` in mip-0 voxels; the edges whose upper voxel lies here. */
  chunk_position: boxKey,
  layer_path_affinities: text,
  layer_path_segmentation: text,
};
export const meanGraphTask = defineTask('mean_graph', LABEL, graphFields, {
  id: (task) => `mean_graph:${task.layer_path_segmentation}:${task.chunk_position}`,
  async inputs(task, open) {
    const [aff, seg] = await Promise.all([open(task.layer_path_affinities), open(task.layer_path_segmentation)]);
    const region = meanGraphRegion(parseChunkKey(task.chunk_position), seg.bounds(0));
    return [...seg.chunkObjects(0, region), ...aff.chunkObjects(0, region)];
  },
  run: runMeanGraph,
});
export type MeanGraphTask = TaskOf<'mean_graph', typeof graphFields>;

const reduceFields = { layer_path_segmentation: text };
export const meanGraphReduce = defineTask('mean_graph_reduce', 'MeanGraphReduce task', reduceFields, {
  id: (task) => `mean_graph_reduce:${task.layer_path_segmentation}`,
  run: runMeanGraphReduce,
});
export type MeanGraphReduceTask = TaskOf<'mean_graph_reduce', typeof reduceFields>;

/** The voxels a MeanGraph task reads: its box and one voxel below it (the lower ends of its edges). */
export function meanGraphRegion(owned: Box, bounds: Box): Box {
  return intersect(box(owned.start.map((v) => v - 1) as Vec3, owned.stop), bounds);
}

async function runMeanGraph(task: MeanGraphTask, ctx: TaskContext) {
  const { affinities, segmentation } = await openAffinityLayers(task, LABEL, ctx.open);
  const owned = parseChunkKey(task.chunk_position, `${LABEL}: chunk_position`);
  assertChunkUnion(segmentation.scale(0), owned, `${LABEL}: chunk_position`);
  const region = meanGraphRegion(owned, segmentation.bounds(0));
  const [labels, values] = await Promise.all([segmentation.read(0, region), affinities.read(0, region)]);
  checkAffinityValues(values as Float32Array, LABEL, `${affinities.url} ${task.chunk_position}`);
  const edges = await meanGraph({ labels: asLabels(labels), affinities: values as Float32Array, box: region, owned, kernels: await ctx.kernels() });
  await segmentation.store.put(`${GRAPH_CHUNKS}/${task.chunk_position}.json`, encodeGraph(edges), { contentType: 'application/json' });
  return { kind: 'mean_graph', voxels: voxelCount(owned), chunksWritten: 0, files: 1 };
}

async function runMeanGraphReduce(task: MeanGraphReduceTask, ctx: TaskContext) {
  const segmentation = await ctx.open(task.layer_path_segmentation);
  const keys = await listAll(segmentation.store, `${GRAPH_CHUNKS}/`);
  checkChunkGraphNames(segmentation, keys);
  if (keys.length === 0)
    throw new InvalidInput(`MeanGraphReduce task: no chunk graphs under ${segmentation.url}/${GRAPH_CHUNKS}/ (run the MeanGraph tasks first)`);
  const graphs = await Promise.all(
    keys.map(async (key) => {
      const bytes = await segmentation.store.get(key, { maxBytes: MAX_JSON_BYTES });
      if (!bytes) throw new TransientError(`MeanGraphReduce task: ${segmentation.url}/${key} was listed, then not found`);
      return decodeGraph(bytes, `${segmentation.url}/${key}`);
    }),
  );
  await segmentation.store.put(GRAPH_FILE, encodeGraph(mergeGraphs(graphs), true), { contentType: 'application/json' });
  return { kind: 'mean_graph_reduce', voxels: 0, chunksWritten: 0, files: keys.length };
}

/**
 * Every chunk graph must be named by a canonical box of whole segmentation chunks, and no two may
 * overlap: a stray or duplicated file would add its edges twice.
 */
function checkChunkGraphNames(segmentation: Volume, keys: string[]): void {
  const scale = segmentation.scale(0);
  const grid = gridShape(scale),
    c = chunkSize(scale);
  const owner = new Map<number, string>();
  for (const key of keys) {
    const name = key.slice(GRAPH_CHUNKS.length + 1);
    const where = `MeanGraphReduce task: ${segmentation.url}/${key}`;
    if (!name.endsWith('.json') || !isBoxKey(name.slice(0, -5))) throw new InvalidInput(`${where} is not named <x0-x1_y0-y1_z0-z1>.json; remove it`);
    const owned = parseChunkKey(name.slice(0, -5));
    assertChunkUnion(scale, owned, where);
    for (const chunk of chunksWithin(scale, owned)) {
      const g = chunk.start.map((s, i) => (s - scale.voxel_offset[i]) / c[i]);
      const cell = g[0] + grid[0] * (g[1] + grid[1] * g[2]);
      const other = owner.get(cell);
      if (other) throw new InvalidInput(`${where} overlaps ${other}: their edges would be counted twice`);
      owner.set(cell, key);
    }
  }
}
