// Opening the two layers of an affinity task: a float32 3-channel affinity layer and a segmentation
// with the same mip-0 geometry; errors name the task field.
import { CorruptData, InvalidInput, withContext } from '../common/errors.js';
import { equals, formatBox } from '../common/box.js';
import { Volume } from '../precomputed/volume.js';

export async function openAffinityLayers(
  task: { layer_path_affinities: string; layer_path_segmentation: string },
  label: string,
  open: (url: string) => Promise<Volume> = (url) => Volume.open(url),
): Promise<{ affinities: Volume; segmentation: Volume }> {
  const [affinities, segmentation] = await Promise.all([
    open(task.layer_path_affinities).catch((e) => {
      throw withContext(e, `${label}: layer_path_affinities`);
    }),
    open(task.layer_path_segmentation).catch((e) => {
      throw withContext(e, `${label}: layer_path_segmentation`);
    }),
  ]);
  const a = affinities.info;
  if (a.data_type !== 'float32' || a.num_channels !== 3) {
    throw new InvalidInput(
      `${label}: layer_path_affinities ${affinities.url} is ${a.data_type} with ${a.num_channels} channel(s); affinities must be float32 with 3 channels (x, y, z edges)`,
    );
  }
  if (segmentation.info.type !== 'segmentation' || segmentation.info.data_type === 'float32') {
    throw new InvalidInput(
      `${label}: layer_path_segmentation ${segmentation.url} is a ${segmentation.info.data_type} ${segmentation.info.type} layer; it must be an integer segmentation`,
    );
  }
  const sa = affinities.scale(0),
    ss = segmentation.scale(0);
  if (!equals(affinities.bounds(0), segmentation.bounds(0)) || !sa.resolution.every((r, i) => r === ss.resolution[i])) {
    throw new InvalidInput(
      `${label}: the layers' mip 0 differ: affinities ${formatBox(affinities.bounds(0))} at [${sa.resolution}] nm, segmentation ${formatBox(segmentation.bounds(0))} at [${ss.resolution}] nm`,
    );
  }
  return { affinities, segmentation };
}

/** Checks that every affinity is in [0, 1] (NaN included), naming the first bad one. */
export function checkAffinityValues(values: Float32Array, label: string, where: string): void {
  for (let i = 0; i < values.length; i++) {
    const a = values[i];
    if (!(a >= 0 && a <= 1))
      throw new CorruptData(`${label}: layer_path_affinities ${where}: affinity ${a} (value ${i} of the box, channel-major) is outside [0, 1]`);
  }
}
