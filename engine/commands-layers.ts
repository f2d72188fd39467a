// Commands that make layers and plans: create-layer, plan ingest|downsample|mesh|watershed|mean-graph.
import { Command, Option } from 'commander';
import { writeFile } from 'node:fs/promises';
import { DATA_TYPES } from '../precomputed/dtype.js';
import { createInfo, ENCODINGS } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { Plan, planDownsample, planIngest, planMeanGraph, planMesh, planSize, planTransfer, planWatershed } from '../tasks/plan.js';
import { BUILD_ENCODINGS } from '../tasks/ingest.js';
import { integer, number, positiveVector3, shardingChoiceFrom, shardingOptions, vector3 } from './options.js';
import { configure } from './commands-run.js';
import { runtimeOptions } from './options.js';

const EXTENT = 2 ** 40;

async function writePlan(plan: Plan, out: string | undefined): Promise<void> {
  const text = JSON.stringify(plan, null, 1);
  if (out) {
    await writeFile(out, text);
    console.error(`${planSize(plan)} tasks in ${plan.stages.length} stage(s) -> ${out}`);
  } else console.log(text);
}

/** A `plan <what>` subcommand with the storage options and --out. */
function planCommand(plan: Command, name: string, description: string): Command {
  return runtimeOptions(plan.command(name).description(description)).option('--out <file>', 'write the plan here (default: stdout)');
}

export function addLayerCommands(program: Command): void {
  const create = runtimeOptions(program.command('create-layer')
    .description('write the info of a new layer: mip 0 and its downsampled scales')
    .argument('<layer>', 'layer URL'))
    .addOption(new Option('--type <type>', 'layer type').choices(['image', 'segmentation']).makeOptionMandatory())
    .addOption(new Option('--dtype <dtype>', 'voxel type').choices(DATA_TYPES).makeOptionMandatory())
    .addOption(new Option('--size <x,y,z>', 'voxels at mip 0').argParser(vector3(1, EXTENT)).makeOptionMandatory())
    .addOption(new Option('--resolution <x,y,z>', 'nm per voxel').argParser(positiveVector3).makeOptionMandatory())
    .addOption(new Option('--chunk <x,y,z>', 'chunk size').argParser(vector3(1, 4096)).default([64, 64, 64]))
    .addOption(new Option('--encoding <encoding>', 'default: compressed_segmentation for segmentation, raw for images').choices(ENCODINGS))
    .addOption(new Option('--block <x,y,z>', 'compressed_segmentation block size').argParser(vector3(1, 64)).default([8, 8, 8]))
    .addOption(new Option('--offset <x,y,z>', 'voxel_offset').argParser(vector3(-EXTENT, EXTENT)).default([0, 0, 0]))
    .addOption(new Option('--factor <x,y,z>', 'downsampling factor per mip, each 1 or 2').argParser(vector3(1, 2)).default([2, 2, 2]))
    .addOption(new Option('--mips <n>', 'scales beyond mip 0 (default: until one chunk holds the volume)').argParser(integer(0, 40)))
    .addOption(new Option('--channels <n>', 'channels (images)').argParser(integer(1, 4096)).default(1));
  shardingOptions(create)
    .action(async (layer: string, o) => {
      configure(o);
      const info = createInfo({
        type: o.type, dataType: o.dtype, numChannels: o.channels, size: o.size, resolution: o.resolution, voxelOffset: o.offset,
        chunkSize: o.chunk, encoding: o.encoding ?? (o.type === 'segmentation' ? 'compressed_segmentation' : 'raw'), blockSize: o.block,
        factor: o.factor, mips: o.mips, sharding: shardingChoiceFrom(o),
      });
      await Volume.create(layer, info);
      console.log(JSON.stringify(info, null, 2));
    });

  const plan = program.command('plan').description('write the tasks of a job as stages that run in order');

  planCommand(plan, 'ingest', 'build chunks -> mip 0 and every mip they complete, then downsample the rest')
    .requiredOption('--layer <url>', 'the layer (created with create-layer)')
    .requiredOption('--build <url>', 'directory of build chunks named <x0-x1_y0-y1_z0-z1>.npz|.raw, or directories of PNG slices')
    .addOption(new Option('--encoding <encoding>', 'build chunk format').choices(BUILD_ENCODINGS).default('npz'))
    .addOption(new Option('--axes <order>', 'npz axis order').choices(['xyz', 'zyx']))
    .action(async (o) => {
      configure(o);
      await writePlan(await planIngest({ layerPath: o.layer, buildPath: o.build, encoding: o.encoding, axes: o.axes }), o.out);
    });

  planCommand(plan, 'downsample', 'every chunk of the mips above --from-mip, from the mip below')
    .requiredOption('--layer <url>', 'the layer')
    .addOption(new Option('--from-mip <m>', 'the highest mip that is already complete').argParser(integer(0, 40)).default(0))
    .action(async (o) => {
      configure(o);
      await writePlan(await planDownsample({ layerPath: o.layer, fromMip: o.fromMip }), o.out);
    });

  planCommand(plan, 'mesh', 'meshes of every segment, then their manifests (adds the "mesh" directory to the info)')
    .requiredOption('--layer <url>', 'a segmentation layer')
    .addOption(new Option('--mip <m>', 'the scale to mesh').argParser(integer(0, 40)).default(0))
    .addOption(new Option('--simplification <s>', '0 (none) .. 10').argParser(integer(0, 10)).default(0))
    .addOption(new Option('--lod <n>', 'level of detail in the fragment names').argParser(integer(0, 1000)).default(0))
    .option('--segments <ids>', 'only these segment ids, comma-separated')
    .action(async (o) => {
      configure(o);
      const segments = o.segments ? (o.segments as string).split(',').map((s) => s.trim()) : undefined;
      await writePlan(await planMesh({ layerPath: o.layer, mip: o.mip, lod: o.lod, simplification: o.simplification, segments }), o.out);
    });

  const unit = () => number(0, 1);
  planCommand(plan, 'watershed', 'one watershed task per segmentation chunk, grown by --overlap voxels')
    .requiredOption('--affinities <url>', 'float32 affinity layer, 3 channels')
    .requiredOption('--segmentation <url>', 'uint64 segmentation layer to write')
    .addOption(new Option('--high <t>', 'high threshold').argParser(unit()).makeOptionMandatory())
    .addOption(new Option('--low <t>', 'low threshold').argParser(unit()).makeOptionMandatory())
    .addOption(new Option('--merge-threshold <t>', 'size-dependent merge threshold').argParser(unit()).makeOptionMandatory())
    .addOption(new Option('--merge-size <n>', 'merge regions smaller than this').argParser(integer(0, Number.MAX_SAFE_INTEGER)).makeOptionMandatory())
    .addOption(new Option('--dust-size <n>', 'drop regions smaller than this').argParser(integer(0, Number.MAX_SAFE_INTEGER)).makeOptionMandatory())
    .addOption(new Option('--overlap <v>', 'voxels of context around each chunk').argParser(integer(0, 4096)).default(0))
    .action(async (o) => {
      configure(o);
      await writePlan(await planWatershed({
        affinitiesPath: o.affinities, segmentationPath: o.segmentation, overlap: o.overlap,
        params: { high_threshold: o.high, low_threshold: o.low, merge_threshold: o.mergeThreshold, merge_size: o.mergeSize, dust_size: o.dustSize },
      }), o.out);
    });

  shardingOptions(planCommand(plan, 'transfer', 'copy a layer into another, every scale: unsharded to sharded, sharded to unsharded, or re-encoded')
    .requiredOption('--from <url>', 'the layer to copy')
    .requiredOption('--to <url>', 'the destination (made from the source\'s info when it has none)')
    .option('--unsharded', 'a new destination stores chunks as separate objects'))
    .action(async (o) => {
      configure(o);
      const sharding = o.unsharded ? 'unsharded' as const : shardingChoiceFrom(o);
      await writePlan(await planTransfer({ from: o.from, to: o.to, sharding }), o.out);
    });

  planCommand(plan, 'mean-graph', 'the mean-affinity region graph: chunk graphs, then the reducer')
    .requiredOption('--affinities <url>', 'float32 affinity layer, 3 channels')
    .requiredOption('--segmentation <url>', 'the segmentation layer')
    .action(async (o) => {
      configure(o);
      await writePlan(await planMeanGraph({ affinitiesPath: o.affinities, segmentationPath: o.segmentation }), o.out);
    });
}
