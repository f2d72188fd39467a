// Build chunks as raw files, `<box>.raw`: little-endian voxels, x fastest, channels last.
import { decodeRaw } from '../codecs/raw.js';
import { shapeOf } from '../common/box.js';
import { BuildFormat, BuildRead } from './format.js';
import { readBuildFile } from './read-file.js';

export const rawFormat: BuildFormat = {
  suffix: '.raw',
  maxBytes: (dataBytes) => dataBytes,
  read: async (r: BuildRead) => decodeRaw(await readBuildFile(r, rawFormat), shapeOf(r.box), r.channels, r.dataType),
};
