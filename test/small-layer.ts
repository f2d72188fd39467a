// A small image layer for the store tests: 37x29x11 uint8 of a fixed pattern at 8x8x4 chunks, 2x2x1
// mips, mip 0 written and the mips above made by a downsample plan.
import { allChunks, createInfo, LayerSpec, scaleBounds } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { runPlan } from '../queue/local/run.js';
import { planDownsample } from '../tasks/plan/planners.js';
import { runTask } from '../tasks/registry.js';

export async function smallImageLayer(url: string, spec: Partial<LayerSpec> = {}): Promise<{ volume: Volume; values: Uint8Array }> {
  const info = createInfo({
    type: 'image',
    dataType: 'uint8',
    encoding: 'raw',
    size: [37, 29, 11],
    resolution: [4, 4, 40],
    chunkSize: [8, 8, 4],
    factors: [[2, 2, 1]],
    mips: 2,
    ...spec,
  });
  const volume = await Volume.create(url, info);
  const values = Uint8Array.from({ length: 37 * 29 * 11 }, (_, i) => (i * 7 + (i >> 5)) & 255);
  await volume.writeChunks(0, allChunks(volume.scale(0)), values, scaleBounds(volume.scale(0)));
  const { dead } = await runPlan(await planDownsample({ layerPath: url }), runTask, { concurrency: 2, progress: false });
  if (dead.length) throw new Error(`downsample of ${url}: ${dead[0].error}`);
  return { volume, values };
}
