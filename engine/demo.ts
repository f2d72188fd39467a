// `digest demo`: synthetic image + segmentation as npz build chunks -> ingest -> downsample to the top mip.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { encodeNpy, encodeNpz } from '../codecs/npz.js';
import { box, chunkKey, Vec3 } from '../precomputed/box.js';
import { createInfo } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { Plan, planIngest } from '../tasks/plan.js';
import { Execute, runPlan, RunSummary } from './runner.js';
import { synthesize } from './synthetic.js';

export interface DemoOptions {
  out: string;
  size?: Vec3;
  buildSize?: Vec3;
  chunkSize?: Vec3;
  execute: Execute;
  concurrency: number;
  progress?: boolean;
}

export interface DemoResult {
  imageLayer: string;
  segmentationLayer: string;
  plan: Plan;
  summary: RunSummary;
}

/** Writes build chunks of synthetic data covering `size`, each `buildSize` (clipped at the edge). */
export async function writeSyntheticBuildChunks(out: string, size: Vec3, buildSize: Vec3): Promise<{ imageBuild: string; segmentationBuild: string }> {
  const imageBuild = join(out, 'build', 'image');
  const segmentationBuild = join(out, 'build', 'segmentation');
  await mkdir(imageBuild, { recursive: true });
  await mkdir(segmentationBuild, { recursive: true });
  for (let z = 0; z < size[2]; z += buildSize[2]) for (let y = 0; y < size[1]; y += buildSize[1]) for (let x = 0; x < size[0]; x += buildSize[0]) {
    const region = box([x, y, z], [Math.min(x + buildSize[0], size[0]), Math.min(y + buildSize[1], size[1]), Math.min(z + buildSize[2], size[2])]);
    const shape = region.stop.map((s, i) => s - region.start[i]);
    const { image, labels } = synthesize(region);
    await writeFile(join(imageBuild, `${chunkKey(region)}.npz`), encodeNpz({ data: encodeNpy(image, shape) }));
    await writeFile(join(segmentationBuild, `${chunkKey(region)}.npz`), encodeNpz({ data: encodeNpy(labels, shape) }));
  }
  return { imageBuild, segmentationBuild };
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const out = resolve(opts.out);
  const size = opts.size ?? [256, 256, 128];
  const chunkSize = opts.chunkSize ?? [64, 64, 64];
  const { imageBuild, segmentationBuild } = await writeSyntheticBuildChunks(out, size, opts.buildSize ?? [128, 128, 128]);
  const imageLayer = `file://${join(out, 'layers', 'image')}`;
  const segmentationLayer = `file://${join(out, 'layers', 'segmentation')}`;
  const common = { size, resolution: [8, 8, 8] as Vec3, chunkSize };
  await Volume.create(imageLayer, createInfo({ ...common, type: 'image', dataType: 'uint8', encoding: 'raw' }));
  await Volume.create(segmentationLayer, createInfo({ ...common, type: 'segmentation', dataType: 'uint64', encoding: 'compressed_segmentation', blockSize: [8, 8, 8] }));
  const plans = await Promise.all([
    planIngest({ layerPath: imageLayer, buildPath: `file://${imageBuild}`, encoding: 'npz' }),
    planIngest({ layerPath: segmentationLayer, buildPath: `file://${segmentationBuild}`, encoding: 'npz' }),
  ]);
  // Both layers' stage i run together.
  const stages = Array.from({ length: Math.max(...plans.map((p) => p.stages.length)) }, (_, i) => plans.flatMap((p) => p.stages[i] ?? []));
  const plan: Plan = { layer_path: join(out, 'layers'), stages };
  const summary = await runPlan(plan, opts.execute, { concurrency: opts.concurrency, progress: opts.progress });
  return { imageLayer, segmentationLayer, plan, summary };
}
