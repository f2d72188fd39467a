// MeanGraph: the region graphs of a box of whole segmentation chunks, one file per chunk,
// `mean_graph/chunks/<chunk box>.graph` in the segmentation layer (affinities/region-graph.ts has the
// format, affinities/mean-graph.ts what is in it). Each voxel edge is counted by exactly one chunk:
// the one that holds its upper voxel. So a task reads one voxel below its box (the lower ends of its
// edges), and the graphs of all chunks add up exactly. The agglomeration's blocks read them.
import { chunkGraphs } from '../affinities/mean-graph.js';
import { encodeRegionGraph, HEADER_BYTES } from '../affinities/region-graph.js';
import { box, Box, chunkKey, intersect, parseChunkKey, voxelCount, Vec3 } from '../common/box.js';
import { asLabels } from '../common/dtype.js';
import { assertChunkUnion, chunksWithin } from '../precomputed/info.js';
import { checkAffinityValues, openAffinityLayers } from './affinity-layers.js';
import { boxKey, text } from './fields.js';
import { defineTask, TaskOf } from './kind.js';
import type { TaskContext } from './context.js';

export const GRAPH_CHUNKS = 'mean_graph/chunks';
const LABEL = 'MeanGraph task';

/** Where a chunk's region graph lives in the segmentation layer. */
export function chunkGraphKey(chunk: Box): string {
  return `${GRAPH_CHUNKS}/${chunkKey(chunk)}.graph`;
}

/**
 * The largest graph a chunk can have: at most 3 edges (40 bytes) a voxel, and a region (16 bytes) a
 * voxel of the chunk and of the layer of voxels below it.
 */
export function maxChunkGraphBytes(chunk: Box): number {
  const withShell = chunk.stop.reduce((n, s, d) => n * (s - chunk.start[d] + 1), 1);
  return HEADER_BYTES + 120 * voxelCount(chunk) + 16 * withShell;
}

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

/** The voxels a MeanGraph task reads: its box and one voxel below it (the lower ends of its edges). */
export function meanGraphRegion(owned: Box, bounds: Box): Box {
  return intersect(box(owned.start.map((v) => v - 1) as Vec3, owned.stop), bounds);
}

async function runMeanGraph(task: MeanGraphTask, ctx: TaskContext) {
  const { affinities, segmentation } = await openAffinityLayers(task, LABEL, ctx.open);
  const owned = parseChunkKey(task.chunk_position, `${LABEL}: chunk_position`);
  const scale = segmentation.scale(0);
  assertChunkUnion(scale, owned, `${LABEL}: chunk_position`);
  const bounds = segmentation.bounds(0);
  // One z layer of chunks at a time: a chunk's graph needs only its voxels and the plane below, so a
  // task of a 512^3 box holds one layer of its chunks (and that plane), not the whole box.
  const chunks = chunksWithin(scale, owned);
  for (const z of new Set(chunks.map((c) => c.start[2]))) {
    const layer = chunks.filter((c) => c.start[2] === z);
    const region = meanGraphRegion(box([owned.start[0], owned.start[1], z], [owned.stop[0], owned.stop[1], layer[0].stop[2]]), bounds);
    const [labels, values] = await Promise.all([segmentation.read(0, region), affinities.read(0, region)]);
    checkAffinityValues(values as Float32Array, LABEL, `${affinities.url} ${chunkKey(region)}`);
    const graphs = chunkGraphs({ labels: asLabels(labels), affinities: values as Float32Array, box: region, chunks: layer, bounds });
    await Promise.all(layer.map((c, i) => segmentation.store.put(chunkGraphKey(c), encodeRegionGraph(graphs[i]), { contentType: 'application/octet-stream' })));
  }
  return { kind: 'mean_graph', voxels: voxelCount(owned), chunksWritten: 0, files: chunks.length };
}
