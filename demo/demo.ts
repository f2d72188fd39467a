// `digest demo`: synthetic image, segmentation and affinities as npz build chunks -> ingest ->
// downsample to the top mip; multi-resolution meshes of every segment; a watershed of the affinities and its
// mean-affinity region graph.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { encodeNpy, encodeNpz } from '../sources/npz.js';
import { box, chunkKey, Vec3 } from '../common/box.js';
import { createInfo, LayerSpec } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { mergeStages, Stage } from '../tasks/plan/format.js';
import { Plan, planAgglomerate, planIngest, planMultiresMesh, planSkeleton, planWatershed } from '../tasks/plan/planners.js';
import { Execute, runPlan, RunSummary } from '../queue/local/run.js';
import { synthesize, synthesizeAffinities } from './synthetic.js';

/** segmentation_<t>'s multi-resolution meshes in 4 shards (the segmentation's are unsharded: both kinds shown). */
const DEMO_MESH_SHARD_BITS = 2;
/** Skeletonize boxes of 2x2x2 chunks (a real run sizes them by --memory): several tasks, stitched. */
const DEMO_SKELETON_BLOCK = 2;
/**
 * segmentation_0.6: merge while mean affinity > 0.4. The generator's affinities are 0.75-0.95 inside
 * a cell and 0.1-0.4 across a membrane, and watershed fragments of one cell meet where affinities
 * are lowest (means down to ~0.6): 1 - t = 0.4 separates the two (measured in bench/RESULTS.md).
 */
export const DEMO_AGGLOMERATION_THRESHOLD = 0.6;
/** Watershed of the synthetic affinities: cells (edges 0.75..0.95) come out whole (about one segment per cell), membrane scraps become dust. */
export const DEMO_WATERSHED = { high_threshold: 0.99, low_threshold: 0.05, merge_threshold: 0.5, merge_size: 2000, dust_size: 50 };

export interface DemoOptions {
  /** A local directory for the build chunks (and the layers, unless `layers` says otherwise). */
  out: string;
  /** Where the layers go (any store URL: s3://bucket/demo, gs://...); default `<out>/layers`. */
  layers?: string;
  size?: Vec3;
  buildSize?: Vec3;
  chunkSize?: Vec3;
  execute: Execute;
  concurrency: number;
  progress?: boolean;
  /** As each stage starts (the pool's info scope). */
  onStage?: (scope: string) => void;
}

export interface DemoResult {
  imageLayer: string;
  segmentationLayer: string;
  affinityLayer: string;
  watershedLayer: string;
  /** segmentation_<threshold>: the watershed agglomerated. */
  agglomeratedLayer: string;
  plan: Plan;
  summary: RunSummary;
}

/** Writes build chunks of synthetic data covering `size`, each `buildSize` (clipped at the edge); affinities on request. */
export async function writeSyntheticBuildChunks(
  out: string,
  size: Vec3,
  buildSize: Vec3,
  opts: { affinities?: boolean } = {},
): Promise<{ imageBuild: string; segmentationBuild: string; affinityBuild: string }> {
  const imageBuild = join(out, 'build', 'image');
  const segmentationBuild = join(out, 'build', 'segmentation');
  const affinityBuild = join(out, 'build', 'affinities');
  for (const dir of [imageBuild, segmentationBuild, ...(opts.affinities ? [affinityBuild] : [])]) await mkdir(dir, { recursive: true });
  for (let z = 0; z < size[2]; z += buildSize[2])
    for (let y = 0; y < size[1]; y += buildSize[1])
      for (let x = 0; x < size[0]; x += buildSize[0]) {
        const region = box([x, y, z], [Math.min(x + buildSize[0], size[0]), Math.min(y + buildSize[1], size[1]), Math.min(z + buildSize[2], size[2])]);
        const shape = region.stop.map((s, i) => s - region.start[i]);
        const { image, labels } = synthesize(region);
        await writeFile(join(imageBuild, `${chunkKey(region)}.npz`), encodeNpz({ data: encodeNpy(image, shape) }));
        await writeFile(join(segmentationBuild, `${chunkKey(region)}.npz`), encodeNpz({ data: encodeNpy(labels, shape) }));
        if (opts.affinities)
          await writeFile(join(affinityBuild, `${chunkKey(region)}.npz`), encodeNpz({ data: encodeNpy(synthesizeAffinities(region), [...shape, 3]) }));
      }
  return { imageBuild, segmentationBuild, affinityBuild };
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const out = resolve(opts.out);
  const size = opts.size ?? [256, 256, 128];
  const chunkSize = opts.chunkSize ?? [64, 64, 64];
  const { imageBuild, segmentationBuild, affinityBuild } = await writeSyntheticBuildChunks(out, size, opts.buildSize ?? [128, 128, 128], { affinities: true });
  const layers = (opts.layers ?? `file://${join(out, 'layers')}`).replace(/\/+$/, '');
  const layer = (name: string) => `${layers}/${name}`;
  const [imageLayer, segmentationLayer, affinityLayer, watershedLayer] = ['image', 'segmentation', 'affinities', 'watershed'].map(layer);
  const common = { size, resolution: [8, 8, 8] as Vec3, chunkSize };
  const segmentation: LayerSpec = { ...common, type: 'segmentation', dataType: 'uint64', encoding: 'compressed_segmentation', blockSize: [8, 8, 8] };
  await Volume.create(imageLayer, createInfo({ ...common, type: 'image', dataType: 'uint8', encoding: 'raw' }));
  await Volume.create(segmentationLayer, createInfo(segmentation));
  await Volume.create(affinityLayer, createInfo({ ...common, type: 'image', dataType: 'float32', numChannels: 3, encoding: 'raw', mips: 0 }));
  await Volume.create(watershedLayer, createInfo({ ...segmentation, mips: 0 }));
  const plans = await Promise.all([
    planIngest({ layerPath: imageLayer, buildPath: `file://${imageBuild}`, encoding: 'npz' }),
    planIngest({ layerPath: segmentationLayer, buildPath: `file://${segmentationBuild}`, encoding: 'npz' }),
    planIngest({ layerPath: affinityLayer, buildPath: `file://${affinityBuild}`, encoding: 'npz' }),
  ]);
  // The layers' stage i run together. Meshes and the watershed need only mip 0, so they run beside
  // the first downsample stage; then the manifests and the region graph of the watershed.
  const depth = Math.max(2, ...plans.map((p) => p.stages.length));
  const stages = Array.from({ length: depth }, (_, i) =>
    mergeStages(
      plans.map((p) => p.stages[i]?.name).find(Boolean) ?? `stage ${i + 1}`,
      plans.map((p) => p.stages[i]),
    ),
  );
  // Multi-resolution meshes: unsharded for the segmentation, sharded (4 shards) for segmentation_<t>.
  const [forge, merge, properties] = (await planMultiresMesh({ layerPath: segmentationLayer })).stages;
  // One watershed task per chunk (a real run sizes them by --memory): this small volume then has
  // task borders that cut cells, for the agglomeration to join.
  const [watershed] = (
    await planWatershed({ affinitiesPath: affinityLayer, segmentationPath: watershedLayer, params: DEMO_WATERSHED, overlap: 8, taskChunks: 1 })
  ).stages;
  // The watershed's region graph, then its agglomeration into segmentation_<t>: remap, mips, meshes.
  const agglomeratedLayer = layer(`segmentation_${DEMO_AGGLOMERATION_THRESHOLD}`);
  const [graph, ...agglomeration] = (
    await planAgglomerate({
      affinitiesPath: affinityLayer,
      segmentationPath: watershedLayer,
      threshold: DEMO_AGGLOMERATION_THRESHOLD,
      outPath: agglomeratedLayer,
      shardBits: DEMO_MESH_SHARD_BITS,
    })
  ).stages;
  // Skeletons of segmentation_<t> (sharded as its meshes), beside its mesh forge and mesh merge.
  const [skeletonize, skeletonMerge] = (await planSkeleton({ layerPath: agglomeratedLayer, shardBits: DEMO_MESH_SHARD_BITS, block: DEMO_SKELETON_BLOCK }))
    .stages;
  const beside = (name: string, extra: Stage) => {
    const i = agglomeration.findIndex((st) => st.name === name);
    if (i < 0) throw new Error(`demo: the agglomeration plan has no ${name} stage`);
    agglomeration[i] = mergeStages(`${name}, ${extra.name}`, [agglomeration[i], extra]);
  };
  beside('mesh forge', skeletonize);
  beside('mesh merge', skeletonMerge);
  stages[1] = mergeStages(`${stages[1].name}, mesh forge, watershed`, [stages[1], forge, watershed]);
  stages.push(
    mergeStages('mesh merge, mean graph', [merge, graph]),
    mergeStages(`segment properties, ${agglomeration[0].name}`, [properties, agglomeration[0]]),
    ...agglomeration.slice(1),
  );
  const plan: Plan = { version: 2, layer_path: layers, stages };
  const summary = await runPlan(plan, opts.execute, { concurrency: opts.concurrency, progress: opts.progress, onStage: opts.onStage });
  return { imageLayer, segmentationLayer, affinityLayer, watershedLayer, agglomeratedLayer, plan, summary };
}
