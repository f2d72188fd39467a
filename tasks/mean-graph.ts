// MeanGraph: the mean-affinity region graph of one box of whole segmentation chunks, written to
// `mean_graph/chunks/<chunk_position>.json` in the segmentation layer; MeanGraphReduce merges every
// chunk file into `mean_graph/graph.json` (affinities/mean-graph.ts has the format).
// Each voxel edge is counted by exactly one task: the one whose box holds its upper voxel. So a task
// reads one voxel below its box (the lower ends of its edges), and the merged sums are exact.
import { decodeGraph, encodeGraph, meanGraph, mergeGraphs } from '../affinities/mean-graph.js';
import { kernels } from '../kernels/backend.js';
import { box, Box, intersect, parseChunkKey, voxelCount, Vec3 } from '../precomputed/box.js';
import { asLabels } from '../precomputed/dtype.js';
import { assertChunkUnion } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { checkAffinityValues, openAffinityLayers } from './affinity-layers.js';
import { MeanGraphReduceTask, MeanGraphTask, TaskResult } from './task.js';

export const GRAPH_CHUNKS = 'mean_graph/chunks';
export const GRAPH_FILE = 'mean_graph/graph.json';
const LABEL = 'MeanGraph task';

/** The voxels a MeanGraph task reads: its box and one voxel below it (the lower ends of its edges). */
export function meanGraphRegion(owned: Box, bounds: Box): Box {
  return intersect(box(owned.start.map((v) => v - 1) as Vec3, owned.stop), bounds);
}

export async function runMeanGraph(task: MeanGraphTask): Promise<TaskResult> {
  const { affinities, segmentation } = await openAffinityLayers(task, LABEL);
  const owned = parseChunkKey(task.chunk_position, `${LABEL}: chunk_position`);
  assertChunkUnion(segmentation.scale(0), owned, `${LABEL}: chunk_position`);
  const region = meanGraphRegion(owned, segmentation.bounds(0));
  const [labels, values] = await Promise.all([segmentation.read(0, region), affinities.read(0, region)]);
  checkAffinityValues(values as Float32Array, LABEL, `${affinities.url} ${task.chunk_position}`);
  const edges = meanGraph({ labels: asLabels(labels), affinities: values as Float32Array, box: region, owned, kernels: kernels() });
  await segmentation.store.put(`${GRAPH_CHUNKS}/${task.chunk_position}.json`, encodeGraph(edges), { contentType: 'application/json' });
  return { kind: 'mean_graph', voxels: voxelCount(owned), chunksWritten: 0, files: 1 };
}

export async function runMeanGraphReduce(task: MeanGraphReduceTask): Promise<TaskResult> {
  const segmentation = await Volume.open(task.layer_path_segmentation);
  const keys = (await segmentation.store.list(`${GRAPH_CHUNKS}/`)).filter((k) => k.endsWith('.json'));
  if (keys.length === 0) throw new Error(`MeanGraphReduce task: no chunk graphs under ${segmentation.url}/${GRAPH_CHUNKS}/ (run the MeanGraph tasks first)`);
  const graphs = await Promise.all(keys.map(async (key) => decodeGraph((await segmentation.store.get(key))!, `${segmentation.url}/${key}`)));
  await segmentation.store.put(GRAPH_FILE, encodeGraph(mergeGraphs(graphs), true), { contentType: 'application/json' });
  return { kind: 'mean_graph_reduce', voxels: 0, chunksWritten: 0, files: keys.length };
}
