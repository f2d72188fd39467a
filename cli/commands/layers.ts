// Commands that make layers and plans: create-layer, plan ingest|downsample|mesh|watershed|mean-graph.
import { Command, Option } from 'commander';
import { writeFile } from 'node:fs/promises';
import { DATA_TYPES, DataType } from '../../common/dtype.js';
import { createInfo, Encoding, ENCODINGS, Info } from '../../precomputed/info.js';
import { Volume } from '../../precomputed/volume.js';
import {
  DEFAULT_TASK_MEMORY,
  Plan,
  planDownsample,
  planIngest,
  DEFAULT_WORKERS,
  planIngestSource,
  DEFAULT_AGGLOMERATION_BLOCK,
  planAgglomerate,
  planMeanGraph,
  planMesh,
  planMultiresMesh,
  planSkeleton,
  planSize,
  planTransfer,
  planWatershed,
  parsePlan,
  stageSize,
  stageTasks,
} from '../../tasks/plan/planners.js';
import { estimatePlan, formatEstimate, layerOf } from '../../tasks/plan/estimate.js';
import { GraphDensity, measureGraphDensity } from '../../tasks/plan/graph-estimate.js';
import { Vec3 } from '../../common/box.js';
import { BUILD_ENCODINGS } from '../../sources/registry.js';
import { LAB_FORMATS, LabSource, labSourceOf, openLabSource } from '../../sources/lab/registry.js';
import { InvalidInput } from '../../common/errors.js';
import { runPlan } from '../../queue/local/run.js';
import { withPrefetch } from '../../runtime/prefetch.js';
import { runtimeOptions } from '../options.js';
import { configure, report, withPool } from './run.js';
import { TaskPool } from '../../runtime/pool.js';
import { GZIP_STRATEGIES, GzipOptions } from '../../storage/gzip.js';
import { DEFAULT_TEASAR } from '../../skeletons/teasar.js';
import { integer, number, positiveVector3, segmentIds, shardingChoiceFrom, shardingOptions, vector3 } from '../options.js';
import { configureStorageFlags, storageFlags } from '../options.js';

const EXTENT = 2 ** 40;

interface PlanOutput {
  out?: string;
  list?: boolean;
  estimate?: boolean;
}

/** Writes the plan (a description: stages of task sets), its task list as JSON lines, or its cost. */
async function writePlan(plan: Plan, o: PlanOutput): Promise<void> {
  // Checked as `digest run` will check it, so that a wrong flag fails here, not when the plan runs.
  const text = JSON.stringify(plan, null, 1);
  parsePlan(text, o.out ?? 'the plan');
  const summary = `${planSize(plan).toLocaleString('en')} tasks in ${plan.stages.length} stage(s): ${plan.stages.map((s) => `${s.name} ${stageSize(s).toLocaleString('en')}`).join(', ')}`;
  if (o.list) {
    for (const [i, stage] of plan.stages.entries())
      for (const { index, task } of stageTasks(stage)) {
        if (!process.stdout.write(`${JSON.stringify({ stage: i, index, task })}\n`)) await new Promise((r) => process.stdout.once('drain', r));
      }
  }
  if (o.estimate) {
    const infos = await layerInfos(plan);
    console.log(`${summary}\n\n${formatEstimate(estimatePlan(plan, infos, { density: await graphDensity(plan) }))}`);
  }
  if (o.out) {
    await writeFile(o.out, text);
    console.error(`${summary} -> ${o.out}`);
  } else if (!o.list && !o.estimate) console.log(text);
}

/** The first task (or template) of every task set of a plan. */
function firstTasks(plan: Plan): Record<string, unknown>[] {
  return plan.stages.flatMap((stage) =>
    stage.sets.flatMap((set) => ('list' in set ? (set.list.slice(0, 1) as unknown as Record<string, unknown>[]) : [set.template])),
  );
}

/** The infos of every layer a plan's task sets name. */
async function layerInfos(plan: Plan): Promise<Map<string, Info>> {
  // The layers tasks write, and those they read from: affinities, the source of a copy.
  const urls = new Set(
    firstTasks(plan).flatMap((t) => {
      const source = t.source as { layer?: string } | undefined;
      return [layerOf(t), t.layer_path_affinities, t.source_path, typeof source === 'object' ? source.layer : undefined].filter(
        (u): u is string => typeof u === 'string',
      );
    }),
  );
  const infos = new Map<string, Info>();
  for (const url of urls) infos.set(url, (await Volume.open(url)).info);
  return infos;
}

/** The region graph's density, counted in the chunk graphs MeanGraph has written already, if any. */
async function graphDensity(plan: Plan): Promise<GraphDensity | undefined> {
  const graph = firstTasks(plan).find((t) => t.kind === 'mean_graph' || t.kind === 'agglomerate_block');
  const layer = graph && layerOf(graph);
  return (layer && (await measureGraphDensity(await Volume.open(layer)))) || undefined;
}

/** A `plan <what>` subcommand with the storage options and the outputs. */
function planCommand(plan: Command, name: string, description: string): Command {
  return storageFlags(plan.command(name).description(description))
    .option('--out <file>', 'write the plan here (default: stdout)')
    .option('--list', 'write every task, one JSON line each (stage, index, task), to stdout')
    .option('--estimate', 'print what the plan will cost: tasks, objects, bytes, operations, CPU-hours, price');
}

const memoryOption = () =>
  new Option(
    '--memory <mib>',
    'memory one task may use (MiB): sets how many mips a downsample task makes from one read, and how many chunks a watershed, mean graph, remap or mesh task covers',
  )
    .argParser(integer(64, 1 << 24))
    .default(DEFAULT_TASK_MEMORY / 2 ** 20);

const taskChunksOption = () =>
  new Option('--task-chunks <n>', 'chunks a side of each watershed, mean graph, remap or legacy mesh task (default: as many as fit --memory)').argParser(
    integer(1, 2 ** 20),
  );

/** What --memory and --task-chunks say of a sized task kind's tasks (tasks/plan/task-size.ts). */
const taskSizing = (o: { memory: number; taskChunks?: number }) => ({ memory: o.memory * 2 ** 20, taskChunks: o.taskChunks });

const sourceFormatOption = () => new Option('--source-format <f>', 'the lab file format (default: from its name)').choices(LAB_FORMATS);
const levelOption = () => new Option('--level <n>', 'OME-Zarr: the multiscale level to read (default 0)').argParser(integer(0, 63));
const sourceAxesOption = () => new Option('--source-axes <order>', "the lab array's axes slowest first where the file does not say (default zyx, czyx)");
const sourceExtra = (o: { level?: number; sourceAxes?: string }) => ({
  ...(o.level === undefined ? {} : { level: o.level }),
  ...(o.sourceAxes ? { axes: o.sourceAxes } : {}),
});

/** A lab source's geometry, the file closed again. */
async function describeSource(source: LabSource) {
  const lab = await openLabSource(source, `source ${source.url}`);
  lab.close?.();
  return lab;
}

/** The options of a new layer's info (create-layer, import): its geometry, encoding and sharding. */
function layerInfoOptions(command: Command): Command {
  return shardingOptions(
    command
      .addOption(sourceFormatOption())
      .addOption(levelOption())
      .addOption(sourceAxesOption())
      .addOption(new Option('--type <type>', 'layer type (required, or with --like: image)').choices(['image', 'segmentation']))
      .addOption(new Option('--dtype <dtype>', 'voxel type (required unless --like)').choices(DATA_TYPES))
      .addOption(new Option('--size <x,y,z>', 'voxels at mip 0 (required unless --like)').argParser(vector3(1, EXTENT)))
      .addOption(new Option('--resolution <x,y,z>', 'nm per voxel (required unless --like gives it)').argParser(positiveVector3))
      .addOption(new Option('--chunk <x,y,z>', 'chunk size').argParser(vector3(1, 4096)).default([64, 64, 64]))
      .addOption(new Option('--encoding <encoding>', 'default: compressed_segmentation for segmentation, raw for images').choices(ENCODINGS))
      .addOption(new Option('--block <x,y,z>', 'compressed_segmentation block size').argParser(vector3(1, 64)).default([8, 8, 8]))
      .addOption(new Option('--offset <x,y,z>', 'voxel_offset (default: 0, or what --like gives)').argParser(vector3(-EXTENT, EXTENT)))
      .addOption(
        new Option('--factor <x,y,z>', 'downsampling factor per mip, each component 1 or 2; repeat it for mips 1, 2, ... (the last repeats)').argParser(
          (text: string, previous: Vec3[] | undefined) => [...(previous ?? []), vector3(1, 2)(text)],
        ),
      )
      .addOption(new Option('--mips <n>', 'scales beyond mip 0 (default: until one chunk holds the volume)').argParser(integer(0, 40)))
      .addOption(new Option('--channels <n>', 'channels (images; default 1, or what --like gives)').argParser(integer(1, 4096)))
      .addOption(
        new Option('--gzip <level>', 'gzip level 1..9 of stored chunks, or off (default: by encoding, see README)').argParser((text: string) =>
          text === 'off' ? false : integer(1, 9)(text),
        ),
      )
      .addOption(
        new Option('--gzip-strategy <s>', 'with --gzip: default, rle (run-length matches only: 3x faster on noisy images) or huffman')
          .choices(GZIP_STRATEGIES)
          .default('default'),
      ),
  );
}

/** The flags layerInfoOptions adds. */
type LayerInfoFlags = Parameters<typeof shardingChoiceFrom>[0] & {
  sourceFormat?: string;
  level?: number;
  sourceAxes?: string;
  type?: 'image' | 'segmentation';
  dtype?: DataType;
  size?: Vec3;
  resolution?: Vec3;
  chunk: Vec3;
  encoding?: Encoding;
  block: Vec3;
  offset?: Vec3;
  factor?: Vec3[];
  mips?: number;
  channels?: number;
  gzip?: number | false;
  gzipStrategy: GzipOptions['strategy'];
};

/**
 * A new layer's info from layerInfoOptions' flags, its geometry taken from the lab file `like` where a
 * flag does not give it (and its type: a segmentation for uint32 and uint64 labels, else an image).
 */
async function infoFromFlags(o: LayerInfoFlags, like: string | undefined, command: string): Promise<Info> {
  const lab = like ? await describeSource(labSourceOf(like, o.sourceFormat, sourceExtra(o))) : undefined;
  const pick = <T>(flag: T | undefined, fromSource: T | undefined, name: string, fallback?: T): T => {
    const value = flag ?? fromSource ?? fallback;
    if (value === undefined) throw new InvalidInput(`${command}: give --${name}${like ? ` (${like} does not say it)` : ' (or --like a source)'}`);
    return value;
  };
  if (lab && o.dtype && o.dtype !== lab.dataType) throw new InvalidInput(`${command}: --dtype ${o.dtype}, but ${like} is ${lab.dataType}`);
  if (lab && o.size && !o.size.every((n, d) => n === lab.shape[d]))
    throw new InvalidInput(`${command}: --size ${o.size.join(',')}, but ${like} is ${lab.shape.join('x')} voxels`);
  const labels = lab && (lab.dataType === 'uint32' || lab.dataType === 'uint64');
  const type = pick(o.type, lab ? (labels ? 'segmentation' : 'image') : undefined, 'type');
  return createInfo({
    type,
    dataType: pick(o.dtype, lab?.dataType, 'dtype'),
    numChannels: pick(o.channels, lab?.channels, 'channels', 1),
    size: pick(o.size, lab?.shape, 'size'),
    resolution: pick(o.resolution, lab?.resolution, 'resolution'),
    voxelOffset: pick(o.offset, lab?.offset, 'offset', [0, 0, 0]),
    chunkSize: o.chunk,
    encoding: o.encoding ?? (type === 'segmentation' ? 'compressed_segmentation' : 'raw'),
    blockSize: o.block,
    factors: o.factor ?? [[2, 2, 2]],
    mips: o.mips,
    sharding: shardingChoiceFrom(o),
    ...(o.gzip === undefined ? {} : { gzip: o.gzip === false ? false : { level: o.gzip, strategy: o.gzipStrategy } }),
  });
}

export function addLayerCommands(program: Command): void {
  storageFlags(
    layerInfoOptions(
      program
        .command('create-layer')
        .description('write the info of a new layer: mip 0 and its downsampled scales')
        .argument('<layer>', 'layer URL')
        .addOption(new Option('--like <source>', 'take size, dtype, channels, resolution and offset from a lab file (TIFF, HDF5 file.h5#/dataset, zarr, N5)')),
    ),
  ).action(async (layer: string, o) => {
    configureStorageFlags(o);
    const info = await infoFromFlags(o, o.like, 'create-layer');
    await Volume.create(layer, info);
    console.log(JSON.stringify(info, null, 2));
  });

  runtimeOptions(
    layerInfoOptions(
      program
        .command('import')
        .description(
          'a lab file (TIFF, HDF5, zarr/OME-Zarr, N5) to a viewable layer in one command: create-layer --like, plan ingest --source, downsample, run here',
        )
        .argument('<source>', 'the file: .tif/.tiff (or a directory of TIFF slices), file.h5#/dataset, .zarr, .n5 (#array inside a container)')
        .argument('<layer>', 'the layer to write'),
    ),
  )
    .addOption(memoryOption())
    .option('--progress <url>', 'where finished tasks are recorded, so that importing again resumes (default: <layer>.import-progress)')
    .action(async (source: string, layer: string, o) => {
      const config = configure(o);
      const info = await infoFromFlags(o, source, 'import');
      await Volume.create(layer, info);
      const plan = await planIngestSource({
        layerPath: layer,
        source: labSourceOf(source, o.sourceFormat, sourceExtra(o)),
        memory: o.memory * 2 ** 20,
        workers: config.threads,
      });
      const summary = await withPool(config, (pool: TaskPool) =>
        runPlan(plan, withPrefetch(pool), {
          concurrency: pool.threads * 2,
          progressUrl: o.progress ?? `${layer.replace(/\/+$/, '')}.import-progress`,
          onStage: (s: string) => pool.beginScope(s),
        }),
      );
      process.exitCode = report(summary);
      if (process.exitCode === 0) console.log(`\nTo view it: digest view ${layer}`);
    });

  const plan = program.command('plan').description('write the tasks of a job as stages that run in order');

  planCommand(plan, 'ingest', 'build chunks or a lab file (TIFF, HDF5, zarr, N5) -> mip 0 and every mip they complete, then downsample the rest')
    .requiredOption('--layer <url>', 'the layer (created with create-layer)')
    .option('--build <url>', 'directory of build chunks named <x0-x1_y0-y1_z0-z1>.npz|.raw, or directories of PNG slices')
    .option('--source <url>', 'or: a lab file read by region: .tif/.tiff (or a directory of TIFF slices), file.h5#/dataset, .zarr (OME-Zarr), .n5')
    .addOption(sourceFormatOption())
    .addOption(levelOption())
    .addOption(sourceAxesOption())
    .addOption(new Option('--encoding <encoding>', 'build chunk format').choices(BUILD_ENCODINGS).default('npz'))
    .addOption(new Option('--axes <order>', 'npz axis order').choices(['xyz', 'zyx']))
    .addOption(
      new Option('--build-size <x,y,z>', 'the build chunks tile mip 0 from its voxel_offset in this size: they are not listed').argParser(vector3(1, EXTENT)),
    )
    .addOption(memoryOption())
    .addOption(
      new Option(
        '--workers <n>',
        "the pool threads the job will run on, all workers together: a sharded layer's Shard tasks also make the mips above mip 0 while two tasks a worker remain",
      )
        .argParser(integer(1, 2 ** 20))
        .default(DEFAULT_WORKERS),
    )
    .action(async (o) => {
      configureStorageFlags(o);
      if (!o.build === !o.source)
        throw new InvalidInput(`plan ingest: give --build (build chunks) or --source (a lab file), ${o.build ? 'not both' : 'one of them'}`);
      if (o.source) {
        await writePlan(
          await planIngestSource({
            layerPath: o.layer,
            source: labSourceOf(o.source, o.sourceFormat, sourceExtra(o)),
            memory: o.memory * 2 ** 20,
            workers: o.workers,
          }),
          o,
        );
        return;
      }
      await writePlan(
        await planIngest({
          layerPath: o.layer,
          buildPath: o.build,
          encoding: o.encoding,
          axes: o.axes,
          buildSize: o.buildSize,
          memory: o.memory * 2 ** 20,
          workers: o.workers,
        }),
        o,
      );
    });

  planCommand(plan, 'downsample', 'every chunk of the mips above --from-mip, from the mip below')
    .requiredOption('--layer <url>', 'the layer')
    .addOption(new Option('--from-mip <m>', 'the highest mip that is already complete').argParser(integer(0, 40)).default(0))
    .addOption(memoryOption())
    .action(async (o) => {
      configureStorageFlags(o);
      await writePlan(await planDownsample({ layerPath: o.layer, fromMip: o.fromMip, memory: o.memory * 2 ** 20 }), o);
    });

  planCommand(
    plan,
    'skeleton',
    'TEASAR skeletons of every segment (adds the "skeletons" directory to the info): skeletonize per box of chunks, then merge per shard or batch',
  )
    .requiredOption('--layer <url>', 'a segmentation layer')
    .addOption(new Option('--shard-bits <n>', 'sharded, 2^n shard files (one merge task each); unsharded when absent').argParser(integer(0, 24)))
    .addOption(new Option('--block <n>', 'chunks a side of a skeletonize task (default: the most that fit --memory)').argParser(integer(1, 1024)))
    .addOption(memoryOption())
    .addOption(
      new Option('--scale <s>', "TEASAR's invalidation ball: scale x the distance to the boundary ...")
        .argParser(number(0, 1000))
        .default(DEFAULT_TEASAR.scale),
    )
    .addOption(new Option('--const <nm>', '... plus this many nm').argParser(number(0, 1e6)).default(DEFAULT_TEASAR.const))
    .addOption(new Option('--dust <voxels>', 'pieces of fewer voxels get no skeleton').argParser(integer(0, 2 ** 31)).default(DEFAULT_TEASAR.dust))
    .addOption(
      new Option(
        '--gather-block <n>',
        'skeletonize tasks a side of a gather task, 0 for none (default: gathered where skeletonize tasks x merge groups pass 2^24)',
      ).argParser(integer(0, 1024)),
    )
    .action(async (o) => {
      configureStorageFlags(o);
      await writePlan(
        await planSkeleton({
          layerPath: o.layer,
          shardBits: o.shardBits,
          block: o.block,
          memory: o.memory * 2 ** 20,
          scale: o.scale,
          const: o.const,
          dust: o.dust,
          gatherBlock: o.gatherBlock,
        }),
        o,
      );
    });

  planCommand(plan, 'mesh', 'meshes of every segment (adds the "mesh" directory to the info): multi-resolution (forge, merge) or legacy (mesh, manifests)')
    .requiredOption('--layer <url>', 'a segmentation layer')
    .addOption(
      new Option('--format <f>', 'multires: Neuroglancer multilod_draco; legacy: one fragment per chunk').choices(['multires', 'legacy']).default('legacy'),
    )
    .addOption(new Option('--lods <n>', 'multires: most levels of detail a segment gets').argParser(integer(1, 32)))
    .addOption(new Option('--shard-bits <n>', 'multires: sharded, 2^n shard files (one merge task each); unsharded when absent').argParser(integer(0, 24)))
    .addOption(new Option('--forge-block <n>', 'multires: chunks a side of a forge task (default: the most that fit --memory)').argParser(integer(1, 1024)))
    .addOption(
      new Option(
        '--gather-block <n>',
        'multires: forge tasks a side of a gather task, 0 for none (default: gathered where forge tasks x shards pass 2^24)',
      ).argParser(integer(0, 1024)),
    )
    .addOption(memoryOption())
    .addOption(taskChunksOption())
    .addOption(new Option('--mip <m>', 'legacy: the scale to mesh').argParser(integer(0, 40)).default(0))
    .addOption(new Option('--simplification <s>', 'legacy: 0 (none) .. 10').argParser(integer(0, 10)).default(0))
    .addOption(new Option('--lod <n>', 'legacy: level of detail in the fragment names').argParser(integer(0, 1000)).default(0))
    .addOption(new Option('--segments <ids>', 'legacy: only these segment ids, comma-separated').argParser(segmentIds))
    .action(async (o) => {
      configureStorageFlags(o);
      if (o.format === 'multires') {
        await writePlan(
          await planMultiresMesh({
            layerPath: o.layer,
            lods: o.lods,
            shardBits: o.shardBits,
            forgeBlock: o.forgeBlock,
            gatherBlock: o.gatherBlock,
            memory: o.memory * 2 ** 20,
          }),
          o,
        );
        return;
      }
      const segments = o.segments as string[] | undefined;
      await writePlan(
        await planMesh({
          layerPath: o.layer,
          mip: o.mip,
          lod: o.lod,
          simplification: o.simplification,
          segments,
          ...taskSizing(o),
        }),
        o,
      );
    });

  const unit = () => number(0, 1);
  planCommand(plan, 'watershed', 'watershed tasks of as many segmentation chunks as fit --memory, grown by --overlap voxels')
    .requiredOption('--affinities <url>', 'float32 affinity layer, 3 channels')
    .requiredOption('--segmentation <url>', 'uint64 segmentation layer to write')
    .addOption(new Option('--high <t>', 'high threshold').argParser(unit()).makeOptionMandatory())
    .addOption(new Option('--low <t>', 'low threshold').argParser(unit()).makeOptionMandatory())
    .addOption(new Option('--merge-threshold <t>', 'size-dependent merge threshold').argParser(unit()).makeOptionMandatory())
    .addOption(new Option('--merge-size <n>', 'merge regions smaller than this').argParser(integer(0, Number.MAX_SAFE_INTEGER)).makeOptionMandatory())
    .addOption(new Option('--dust-size <n>', 'drop regions smaller than this').argParser(integer(0, Number.MAX_SAFE_INTEGER)).makeOptionMandatory())
    .addOption(new Option('--overlap <v>', 'voxels of context around each chunk').argParser(integer(0, 4096)).default(0))
    .addOption(memoryOption())
    .addOption(taskChunksOption())
    .action(async (o) => {
      configureStorageFlags(o);
      await writePlan(
        await planWatershed({
          affinitiesPath: o.affinities,
          segmentationPath: o.segmentation,
          overlap: o.overlap,
          ...taskSizing(o),
          params: { high_threshold: o.high, low_threshold: o.low, merge_threshold: o.mergeThreshold, merge_size: o.mergeSize, dust_size: o.dustSize },
        }),
        o,
      );
    });

  shardingOptions(
    planCommand(plan, 'transfer', 'copy a layer into another, every scale: unsharded to sharded, sharded to unsharded, or re-encoded')
      .requiredOption('--from <url>', 'the layer to copy')
      .requiredOption('--to <url>', "the destination (made from the source's info when it has none)")
      .option('--unsharded', 'a new destination stores chunks as separate objects'),
  ).action(async (o) => {
    configureStorageFlags(o);
    const sharding = o.unsharded ? ('unsharded' as const) : shardingChoiceFrom(o);
    await writePlan(await planTransfer({ from: o.from, to: o.to, sharding }), o);
  });

  planCommand(plan, 'mean-graph', 'the mean-affinity region graph: a binary graph file per chunk')
    .requiredOption('--affinities <url>', 'float32 affinity layer, 3 channels')
    .requiredOption('--segmentation <url>', 'the segmentation layer')
    .addOption(memoryOption())
    .addOption(taskChunksOption())
    .action(async (o) => {
      configureStorageFlags(o);
      await writePlan(await planMeanGraph({ affinitiesPath: o.affinities, segmentationPath: o.segmentation, ...taskSizing(o) }), o);
    });

  planCommand(plan, 'agglomerate', "segmentation_<threshold>: the watershed's region graph, mean-affinity agglomeration, remapped chunks, mips, meshes")
    .requiredOption('--affinities <url>', 'float32 affinity layer, 3 channels')
    .requiredOption('--segmentation <url>', 'the watershed layer')
    .addOption(
      new Option('--threshold <t>', "merge while 1 - mean affinity < t (as waterz's OneMinus<MeanAffinity>)").argParser(number(0, 1)).makeOptionMandatory(),
    )
    .option('--out-layer <url>', 'the agglomerated layer (default: segmentation_<threshold> beside the watershed layer)')
    .addOption(
      new Option('--mesh-format <f>', 'meshes of segmentation_<t>: multires (Neuroglancer multilod_draco) or legacy')
        .choices(['multires', 'legacy'])
        .default('multires'),
    )
    .addOption(
      new Option('--mesh-shard-bits <n>', 'multires meshes sharded in 2^n shards (default: about as many shards as mesh forge tasks)').argParser(
        integer(0, 24),
      ),
    )
    .option('--mesh-unsharded', 'multires meshes unsharded: two objects a segment')
    .option('--skeletons', 'TEASAR skeletons of segmentation_<t> too, sharded as its meshes (gathered before the merges as the meshes are, --gather-block)')
    .addOption(new Option('--simplification <s>', 'legacy mesh simplification, 0 (none) .. 10').argParser(integer(0, 10)).default(0))
    .addOption(
      new Option('--block <n>', 'chunks a side of a level 0 agglomeration block (2x2x2 blocks join at each level above); at least the grid: one task')
        .argParser(integer(1, 2 ** 20))
        .default(DEFAULT_AGGLOMERATION_BLOCK),
    )
    .addOption(memoryOption())
    .addOption(taskChunksOption())
    .action(async (o) => {
      configureStorageFlags(o);
      await writePlan(
        await planAgglomerate({
          block: o.block,
          affinitiesPath: o.affinities,
          segmentationPath: o.segmentation,
          threshold: o.threshold,
          outPath: o.outLayer,
          simplification: o.simplification,
          meshFormat: o.meshFormat,
          shardBits: o.meshUnsharded ? 'unsharded' : o.meshShardBits,
          skeletons: o.skeletons ?? false,
          ...taskSizing(o),
        }),
        o,
      );
    });
}
