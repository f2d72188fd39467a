// The stored objects a task will read, so the engine can fetch them while the pool is busy
// (engine/prefetch.ts). Worked out with the tasks' own region functions; a task reads nothing else
// that is large. Errors here are not the task's errors: the task itself reports them when it runs.
import { meshRegion } from '../mesh/chunk-mesher.js';
import { intersect, parseChunkKey } from '../precomputed/box.js';
import { chunksIntersecting, scaleIndex } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { splitUrl } from '../storage/store.js';
import { downsampleChildren } from './downsample.js';
import { meanGraphRegion } from './mean-graph.js';
import { Task } from './task.js';

export interface StoredObject {
  storeUrl: string;
  key: string;
}

const volumes = new Map<string, Promise<Volume>>();

/** Layer infos are read once per process: the layers a queue's tasks touch do not change shape. */
function volume(url: string): Promise<Volume> {
  let v = volumes.get(url);
  if (!v) {
    v = Volume.open(url);
    v.catch(() => volumes.delete(url));
    volumes.set(url, v);
  }
  return v;
}

function chunkObjects(v: Volume, mip: number, region: Parameters<typeof chunksIntersecting>[1]): StoredObject[] {
  return chunksIntersecting(v.scale(mip), region).map((c) => ({ storeUrl: v.url, key: v.chunkPath(mip, c) }));
}

export async function taskInputs(task: Task): Promise<StoredObject[]> {
  switch (task.kind) {
    case 'ingest': {
      if (task.chunk_encoding === 'png') return []; // a directory of slices
      const { parent, name } = splitUrl(task.chunk_path);
      return [{ storeUrl: parent, key: name }];
    }
    case 'downsample': {
      const v = await volume(task.layer_path);
      const { mip, children } = downsampleChildren(v, task.chunk_path);
      return chunkObjects(v, mip - 1, children);
    }
    case 'mesh': {
      const v = await volume(task.layer_path);
      const mip = scaleIndex(v.info, task.chunk_key);
      const region = meshRegion(parseChunkKey(task.chunk_position), v.bounds(mip));
      return chunkObjects(v, mip, intersect(region.readBox, v.bounds(mip)));
    }
    case 'watershed': {
      const v = await volume(task.layer_path_affinities);
      return chunkObjects(v, 0, intersect(parseChunkKey(task.chunk_position), v.bounds(0)));
    }
    case 'mean_graph': {
      const [aff, seg] = await Promise.all([volume(task.layer_path_affinities), volume(task.layer_path_segmentation)]);
      const region = meanGraphRegion(parseChunkKey(task.chunk_position), seg.bounds(0));
      return [...chunkObjects(seg, 0, region), ...chunkObjects(aff, 0, region)];
    }
    case 'mesh_manifest': case 'mean_graph_reduce':
      return [];
  }
}
