// Runs one task of any kind.
import { runDownsample } from './downsample.js';
import { runIngest } from './ingest.js';
import { runMeanGraph, runMeanGraphReduce } from './mean-graph.js';
import { runMesh, runMeshManifest } from './mesh.js';
import { parseTask, TaskResult } from './task.js';
import { runWatershed } from './watershed.js';

export async function runTask(input: unknown): Promise<TaskResult> {
  const task = parseTask(input);
  switch (task.kind) {
    case 'ingest': return runIngest(task);
    case 'downsample': return runDownsample(task);
    case 'mesh': return runMesh(task);
    case 'mesh_manifest': return runMeshManifest(task);
    case 'watershed': return runWatershed(task);
    case 'mean_graph': return runMeanGraph(task);
    case 'mean_graph_reduce': return runMeanGraphReduce(task);
  }
}
