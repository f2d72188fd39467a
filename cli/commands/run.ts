// Commands that run here: demo, run --local, task, gpu-check, view, upload, serve.
import { Command, Option } from 'commander';
import { InvalidInput, withContext } from '../../common/errors.js';
import { parsePlan, Plan } from '../../tasks/plan/planners.js';
import { gpuCheck, gpuStackLoads } from '../../kernels/gpu/check.js';
import { runTask } from '../../tasks/registry.js';
import { applyConfig, Config } from '../../runtime/config.js';
import { DemoResult, runDemo } from '../../demo/demo.js';
import { configFrom, configureStorageFlags, integer, RuntimeFlags, runtimeOptions, storageFlags } from '../options.js';
import { createTaskPool, TaskPool } from '../../runtime/pool.js';
import { withPrefetch } from '../../runtime/prefetch.js';
import { runPlan, RunSummary } from '../../queue/local/run.js';
import { Access, serveDirectory } from '../../server/files.js';
import { serveView, VIEW_ACCESS, viewerState } from '../../server/view.js';
import { copyLayer } from '../../storage/copy.js';
import { openStore } from '../../storage/open.js';
import { readLocalFile } from '../../storage/file-store.js';
import { MAX_JSON_BYTES } from '../../storage/store.js';

/** Applies the runtime flags to this process and returns the Config for the pool. */
export function configure(flags: RuntimeFlags, log: Config['log'] = 'text'): Config {
  const config = configFrom(flags, log);
  applyConfig(config);
  return config;
}

export async function withPool<T>(config: Config, fn: (pool: TaskPool) => Promise<T>): Promise<T> {
  const pool = createTaskPool(config);
  try {
    return await fn(pool);
  } finally {
    await pool.close();
  }
}

export async function loadPlan(file: string): Promise<Plan> {
  let bytes: Uint8Array | null;
  try {
    bytes = await readLocalFile(file, MAX_JSON_BYTES);
  } catch (e) {
    throw withContext(e, `plan ${file}`);
  }
  if (!bytes) throw new InvalidInput(`plan ${file}: ENOENT: no such file or directory`);
  return parsePlan(bytes, file);
}

export function report(summary: RunSummary): number {
  const mvx = summary.voxels / 1e6 / Math.max(1e-3, summary.seconds);
  const skipped = summary.skipped ? ` (${summary.skipped} done by an earlier run)` : '';
  console.error(
    `${summary.done + summary.skipped}/${summary.tasks} tasks done${skipped} in ${summary.seconds.toFixed(1)} s (${mvx.toFixed(1)} MVx/s), ${summary.retries} retried, ${summary.dead.length} failed`,
  );
  for (const d of summary.dead) console.error(`  FAILED after ${d.attempts} attempt(s): ${JSON.stringify(d.task)}\n    ${d.error}`);
  return summary.dead.length > 0 ? 1 : 0;
}

/** Serves `dir` until interrupted. */
async function serveForever(dir: string, port: number, access: Access): Promise<never> {
  await serveDirectory(dir, port, '127.0.0.1', access);
  console.log(`serving ${dir} on http://127.0.0.1:${port}${access.allowOrigin ? ` with CORS for ${access.allowOrigin}` : ''} (Ctrl-C to stop)`);
  return new Promise(() => {});
}

/** The bundled viewer over `sources` until interrupted; prints the URL of a state showing them all. */
async function viewForever(sources: string[], port: number, access = VIEW_ACCESS): Promise<never> {
  const view = await serveView(sources, port, access);
  console.log(`\nOpen this URL (the bundled Neuroglancer, no internet needed; Ctrl-C to stop):\n  ${view.url}`);
  const remote = view.layers.filter((l) => /^(gs|https?):\/\//.test(l.source) && !l.source.startsWith(`http://127.0.0.1:${view.port}/`));
  if (remote.length > 0)
    console.log(`\nFor any other Neuroglancer (the gs:// layers must be public), paste this state:\n  ${JSON.stringify(viewerState(remote))}`);
  return new Promise(() => {});
}

export const portOption = () => new Option('--port <port>', 'port to serve on').argParser(integer(0, 65535)).default(1337);

/** The demo's layers, one URL each (for `view` when they are not in one local directory). */
const layerUrls = (r: DemoResult) => [r.imageLayer, r.segmentationLayer, r.affinityLayer, r.watershedLayer, r.agglomeratedLayer];

export function addRunCommands(program: Command): void {
  runtimeOptions(
    program
      .command('demo')
      .description('synthetic EM image, segmentation and affinities -> npz build chunks -> ingest -> downsample -> meshes, watershed, region graph'),
  )
    .option('--out <dir>', 'where to write', 'demo-data')
    .option('--layers <url>', 'where the layers go, if not <out>/layers (s3://bucket/demo, gs://bucket/demo)')
    .option('--serve', 'then show the layers in the bundled Neuroglancer (digest view)')
    .addOption(portOption())
    .action(async (o) => {
      const config = configure(o);
      const result = await withPool(config, (pool) =>
        runDemo({ out: o.out, layers: o.layers, execute: withPrefetch(pool), concurrency: pool.threads * 2, onStage: (s) => pool.beginScope(s) }),
      );
      process.exitCode = report(result.summary);
      console.log(
        `\nLayers written:\n  ${result.imageLayer}\n  ${result.segmentationLayer} (with meshes)\n  ${result.affinityLayer}\n  ${result.watershedLayer} (region graph: mean_graph/chunks, mapping: agglomeration/)\n  ${result.agglomeratedLayer} (agglomerated, with meshes and skeletons)`,
      );
      const layers = o.layers ?? `${o.out}/layers`;
      if (o.serve && process.exitCode === 0) await viewForever(o.layers ? layerUrls(result) : [layers], o.port);
      const endpoint = o.layers && o.s3Endpoint ? ` --s3-endpoint ${o.s3Endpoint}` : '';
      console.log(`\nTo view them: digest view ${o.layers ? layerUrls(result).join(' ') : layers}${endpoint}   (or: digest demo --serve)`);
    });

  runtimeOptions(
    program
      .command('run')
      .description('run a plan here, stage by stage, on a pool of threads')
      .argument('<plan>', 'plan file (digest plan ... --out plan.json)')
      .requiredOption('--local', 'with the embedded queue (Pub/Sub: digest publish + digest work)'),
  )
    .addOption(
      new Option('--attempts <n>', 'tries per task before it counts as failed (invalid input and corrupt data are not retried)')
        .argParser(integer(1, 100))
        .default(3),
    )
    .option('--progress <url>', 'where finished tasks are recorded, so that running the plan again skips them (default: <plan>.progress beside the plan)')
    .option('--no-progress', 'record nothing: run every task')
    .action(async (file: string, o) => {
      const config = configure(o);
      const plan = await loadPlan(file);
      const progressUrl = o.progress === false ? undefined : typeof o.progress === 'string' ? o.progress : `${file}.progress`;
      const summary = await withPool(config, (pool) =>
        runPlan(plan, withPrefetch(pool), { concurrency: pool.threads * 2, maxAttempts: o.attempts, progressUrl, onStage: (s) => pool.beginScope(s) }),
      );
      process.exitCode = report(summary);
    });

  runtimeOptions(
    program
      .command('task')
      .description('run one task in this process (debugging)')
      .argument('<json>', `the task, e.g. '{"kind":"downsample","chunk_path":"8_8_8/0-64_0-64_0-64","layer_path":"file:///data/layer"}'`),
  ).action(async (json: string, o) => {
    configure(o);
    console.log(JSON.stringify(await runTask(json)));
  });

  program
    .command('gpu-check')
    .description(
      "open this machine's GPU (WebGPU on Dawn: Vulkan, or OpenGL ES on Mesa), run every kernel on it and on the cpu, print JSON; exit 0 when all agree",
    )
    .addOption(new Option('--size <n>', 'edge of the test volumes in voxels').argParser(integer(16, 512)).default(64))
    .option('--stack-only', 'only check that Dawn and the Vulkan loader load (no GPU needed)')
    .action(async (o) => {
      const stack = await gpuStackLoads();
      const stackOk = stack.dawn === 'loads' && stack.vulkanLoader === 'loads';
      if (o.stackOnly) {
        console.log(JSON.stringify({ ok: stackOk, ...stack }));
        process.exitCode = stackOk ? 0 : 1;
        return;
      }
      const result = await gpuCheck(o.size);
      console.log(JSON.stringify({ ...result, stack }));
      process.exitCode = result.ok ? 0 : 1;
    });

  storageFlags(
    program
      .command('view')
      .description('serve the bundled Neuroglancer and layers on 127.0.0.1, and print the URL of a state showing them all (segments with meshes selected)')
      .argument('<sources...>', 'directories of layers (or one layer), file:// URLs, or s3://, gs:// and https:// layer URLs')
      .addOption(portOption()),
  )
    .option('--allow-origin <origin>', 'also let pages of this origin (or *) read the layers (CORS); default: only the bundled viewer')
    .option('--allow-host <name...>', 'Host names to answer besides 127.0.0.1, localhost and [::1] (a name pointed at this machine)', [])
    .action((sources: string[], o) => {
      configureStorageFlags(o);
      return viewForever(sources, o.port, { allowOrigin: o.allowOrigin ?? null, allowHosts: o.allowHost });
    });

  storageFlags(
    program
      .command('upload')
      .description('copy a layer as stored (gzip-encoded objects stay encoded: key.gz on disk, Content-Encoding: gzip in a bucket), e.g. file:// to gs://')
      .argument('<from>', 'layer URL or directory')
      .argument('<to>', 'destination layer URL or directory')
      .addOption(new Option('--concurrency <n>', 'objects copied at once').argParser(integer(1, 256)).default(16)),
  ).action(async (from: string, to: string, o) => {
    configureStorageFlags(o);
    const source = openStore(from);
    if (!(await source.exists('info'))) throw new InvalidInput(`upload: ${from} holds no layer (no info file)`);
    const summary = await copyLayer(source, openStore(to), o.concurrency);
    console.error(`copied ${summary.objects} objects (${summary.gzipped} gzip-encoded), ${(summary.bytes / 2 ** 20).toFixed(1)} MiB`);
  });

  program
    .command('serve')
    .description('serve file:// layers with CORS for Neuroglancer')
    .argument('[dir]', 'directory of layers', '.')
    .addOption(portOption())
    .option('--allow-origin <origin>', 'the origin whose pages may read the layers (CORS)', '*')
    .option('--allow-host <name...>', 'Host names to answer besides 127.0.0.1, localhost and [::1] (a name pointed at this machine)', [])
    .action((dir: string, o) => serveForever(dir, o.port, { allowOrigin: o.allowOrigin, allowHosts: o.allowHost }));
}
