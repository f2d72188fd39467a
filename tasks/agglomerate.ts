// Agglomerate: the watershed's region graph (mean_graph/graph.json, from MeanGraphReduce) merged at
// a threshold (affinities/agglomerate.ts) into a mapping stored beside it,
// `agglomeration/<threshold>/mapping` (affinities/agglomerate.ts has the format). Remap: one box of
// whole chunks of the agglomerated layer written from the watershed layer through that mapping
// (mip 0; the mips above come from the Downsample tasks, which makes them equal to downsampling the
// remapped mip 0 by construction).
import * as v from 'valibot';
import { crc32 } from 'node:zlib';
import { agglomerate, decodeMapping, encodeMapping, MAX_MAPPING_BYTES } from '../affinities/agglomerate.js';
import { decodeGraph } from '../affinities/mean-graph.js';
import { InvalidInput } from '../common/errors.js';
import { parseChunkKey, voxelCount } from '../common/box.js';
import { asLabels } from '../common/dtype.js';
import { assertChunkUnion } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { MAX_JSON_BYTES } from '../storage/store.js';
import { boxKey, text } from './fields.js';
import { defineTask, TaskOf } from './kind.js';
import { GRAPH_FILE } from './mean-graph.js';

const threshold = v.pipe(v.number('must be a number'), v.minValue(0, 'must be at least 0'), v.maxValue(1, 'must be at most 1'));

/** Where a threshold's mapping lives in the watershed layer ("0.2" -> agglomeration/0.2/mapping). */
export function mappingKey(t: number): string {
  return `agglomeration/${t}/mapping`;
}

const agglomerateFields = { layer_path_segmentation: text, threshold };
export const agglomerateTask = defineTask('agglomerate', 'Agglomerate task', agglomerateFields, {
  id: (task) => `agglomerate:${task.layer_path_segmentation}:${task.threshold}`,
  async run(task, ctx) {
    const segmentation = await ctx.open(task.layer_path_segmentation);
    const bytes = await segmentation.store.get(GRAPH_FILE, { maxBytes: MAX_JSON_BYTES });
    if (!bytes)
      throw new InvalidInput(`Agglomerate task: no region graph ${segmentation.url}/${GRAPH_FILE} (run the MeanGraph and MeanGraphReduce tasks first)`);
    const result = agglomerate(decodeGraph(bytes, `${segmentation.url}/${GRAPH_FILE}`), task.threshold);
    await segmentation.store.put(mappingKey(task.threshold), encodeMapping(result.mapping), { gzip: true });
    return { kind: 'agglomerate', voxels: 0, chunksWritten: 0, files: 1 };
  },
});
export type AgglomerateTask = TaskOf<'agglomerate', typeof agglomerateFields>;

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
    const mapping = await loadMapping(source, task.threshold);
    const labels = asLabels(await source.read(0, region));
    remapInPlace(labels, mapping);
    const written = await target.writeWithin(0, region, labels);
    return { kind: 'remap', voxels: voxelCount(region), chunksWritten: written };
  },
});
export type RemapTask = TaskOf<'remap', typeof remapFields>;

/**
 * The mapping last decoded in this thread, keyed by its content (every Remap task of a plan reads the
 * same one, and decoding costs far more than reading): a mapping rewritten under the same URL, by a
 * later plan in a long-lived worker, is decoded anew.
 */
let cached: { key: string; mapping: Map<bigint, bigint> } | undefined;

async function loadMapping(source: Volume, t: number): Promise<Map<bigint, bigint>> {
  const where = `${source.url}/${mappingKey(t)}`;
  const bytes = await source.store.get(mappingKey(t), { maxBytes: MAX_MAPPING_BYTES });
  if (!bytes) throw new InvalidInput(`Remap task: no mapping ${where} (run the Agglomerate task first)`);
  const key = `${where}:${bytes.length}:${crc32(bytes)}`;
  if (cached?.key !== key) cached = { key, mapping: decodeMapping(bytes, where) };
  return cached.mapping;
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
