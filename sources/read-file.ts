// The one file of a build chunk, bounded by what its format says such a file may take.
import { BYTES_PER_VOXEL } from '../common/dtype.js';
import { InvalidInput } from '../common/errors.js';
import { voxelCount } from '../common/box.js';
import { openStore } from '../storage/open.js';
import { splitUrl } from '../storage/store.js';
import { BuildFormat, BuildRead } from './format.js';

export function buildDataBytes(r: Pick<BuildRead, 'box' | 'dataType' | 'channels'>): number {
  return voxelCount(r.box) * r.channels * BYTES_PER_VOXEL[r.dataType];
}

export async function readBuildFile(r: BuildRead, format: BuildFormat): Promise<Uint8Array> {
  const { parent, name } = splitUrl(r.url);
  const bytes = await openStore(parent).get(name, { maxBytes: format.maxBytes!(buildDataBytes(r)) });
  if (!bytes) throw new InvalidInput(`${r.where}: file not found`);
  return bytes;
}
