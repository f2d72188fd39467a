// digest skeleton export: segments' skeletons (sharded or not) as SWC files, the format tracing and
// morphology tools (neuTube, NEURON, navis) read: <out>/<id>.swc, positions and radius in nm.
import { Command, Option } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInput } from '../../common/errors.js';
import { Volume } from '../../precomputed/volume.js';
import { toSwc } from '../../skeletons/format.js';
import { skeletonReader } from '../../tasks/skeleton.js';
import { configureStorageFlags, StorageFlags, storageFlags } from '../options.js';

/** `1,2,3` as segment ids. */
function segmentIds(text: string): bigint[] {
  return text.split(',').map((s) => {
    if (!/^\d+$/.test(s.trim()) || BigInt(s.trim()) === 0n || BigInt(s.trim()) >= 2n ** 64n)
      throw new InvalidInput(`--ids: "${s}" is not a segment id (1 to 2^64 - 1)`);
    return BigInt(s.trim());
  });
}

export function addSkeletonCommands(program: Command): void {
  const skeleton = program.command('skeleton').description("a segmentation layer's skeletons");
  storageFlags(
    skeleton
      .command('export')
      .description("write segments' skeletons as SWC files (<out>/<id>.swc: id, type, x, y, z, radius, parent; nm)")
      .requiredOption('--layer <url>', 'a segmentation layer with skeletons (digest plan skeleton)')
      .requiredOption('--ids <ids>', 'segment ids, comma-separated', segmentIds)
      .addOption(new Option('--format <f>', 'the file format').choices(['swc']).default('swc'))
      .requiredOption('--out <dir>', 'the directory to write them in'),
  ).action(async (o: StorageFlags & { layer: string; ids: bigint[]; out: string }) => {
    configureStorageFlags(o);
    const volume = await Volume.open(o.layer);
    const { read, resolution, offset } = await skeletonReader(volume, 'skeleton export');
    await mkdir(o.out, { recursive: true });
    const missing: bigint[] = [];
    for (const id of o.ids) {
      const s = await read(id);
      if (!s) {
        missing.push(id);
        continue;
      }
      await writeFile(join(o.out, `${id}.swc`), toSwc(s, resolution, offset, `segment ${id}`));
    }
    console.log(`${o.ids.length - missing.length} skeleton(s) written to ${o.out}`);
    if (missing.length) throw new InvalidInput(`skeleton export: ${o.layer} has no skeleton for segment(s) ${missing.join(', ')}`);
  });
}
