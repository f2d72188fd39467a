#!/usr/bin/env node
// The digest command line.
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Vec3 } from '../precomputed/box.js';
import { DataType, isDataType } from '../precomputed/dtype.js';
import { createInfo, Encoding, ENCODINGS, LayerType } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { Plan, planDownsample, planIngest, planMeanGraph, planMesh, planSize, planWatershed } from '../tasks/plan.js';
import { runTask } from '../tasks/run.js';
import { parseTask } from '../tasks/task.js';
import { runDemo } from './demo.js';
import { logEvent } from './log.js';
import { ProgressStore } from './progress-store.js';
import { publishPlan } from './publish.js';
import { work } from './work.js';
import { createTaskPool, defaultThreads } from './pool.js';
import { parseBackendChoice } from '../kernels/backend.js';
import { runPlan, RunSummary } from './runner.js';
import { serveDirectory } from './serve.js';

const USAGE = `digest: Neuroglancer precomputed ingest, downsampling and more, per chunk.

  digest demo [--out DIR] [--threads N] [--serve [--port P]]
      synthetic EM image, segmentation, affinities -> npz build chunks -> ingest -> downsample -> meshes,
      watershed, region graph, in DIR (default ./demo-data)
  digest create-layer LAYER --type image|segmentation --dtype T --size X,Y,Z --resolution X,Y,Z
      [--chunk 64,64,64] [--encoding raw|jpeg|png|compressed_segmentation] [--block 8,8,8]
      [--offset X,Y,Z] [--factor 2,2,2] [--mips N] [--channels C]
  digest plan ingest --layer LAYER --build URL --encoding npz|raw|png [--axes xyz|zyx] [--out plan.json]
  digest plan downsample --layer LAYER [--from-mip M] [--out plan.json]
  digest plan mesh --layer LAYER [--mip 0] [--simplification 0..10] [--lod 0] [--segments ID,ID,...] [--out plan.json]
      (adds the "mesh" directory to the layer's info when it has none)
  digest plan watershed --affinities AFF --segmentation SEG --high H --low L --merge-threshold M --merge-size N
      --dust-size D [--overlap V] [--out plan.json]     one task per segmentation chunk, grown by V voxels
  digest plan mean-graph --affinities AFF --segmentation SEG [--out plan.json]   chunk graphs, then the reducer
  digest run --local PLAN.json [--threads N] [--attempts 3]
  digest publish PLAN.json --topic T --subscription S --progress URL [--dead-letter T-dead] [--attempts 5]
      [--ack-deadline 60] [--retry-backoff 10,120]
      create what is missing, then publish stage by stage, each once the one before is done
  digest work --subscription S [--threads N] [--prefetch N] [--exit-when-idle SEC] [--health-port 8080]
      [--max-task-minutes 60] [--ack-deadline SEC]      pull and run tasks until SIGTERM (or idle)
  digest status --progress URL [--json]   done, dead and backlog per stage of a published plan
  digest task '<task json>'          run one task in this process (debugging)
  digest serve DIR [--port 1337]     serve file:// layers with CORS for Neuroglancer

Layers and build chunks are URLs: file:///path (or a plain path), gs://bucket/path, mem://name.
demo, run and task take --backend auto|cpu|gpu (or DIGEST_BACKEND): where the kernels run.`;

function vec(text: string | undefined, name: string, fallback?: Vec3): Vec3 {
  if (text === undefined) {
    if (fallback) return fallback;
    throw new Error(`--${name} is required (X,Y,Z)`);
  }
  const v = text.split(',').map(Number);
  if (v.length !== 3 || !v.every(Number.isFinite)) throw new Error(`--${name} "${text}" must be three numbers X,Y,Z`);
  return v as Vec3;
}

/** A flag's value, or its environment variable's (Kubernetes passes config as env). */
function required(value: string | undefined, flag: string, env: string): string {
  const v = value ?? process.env[env];
  if (!v) throw new Error(`--${flag} (or ${env}) is required`);
  return v;
}

/** A non-negative integer flag, or undefined when it is not given. */
function optionalCount(value: string | undefined, flag: string, command: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`${command}: --${flag} "${value}" must be a non-negative integer`);
  return Number(value);
}

function parseBackoff(text: string): [number, number] {
  const v = text.split(',').map(Number);
  if (v.length !== 2 || !v.every((x) => Number.isInteger(x) && x >= 0 && x <= 600) || v[0] > v[1]) throw new Error(`--retry-backoff "${text}" must be MIN,MAX seconds within 0..600`);
  return v as [number, number];
}

async function loadPlan(file: string | undefined, command: string): Promise<Plan> {
  if (!file) throw new Error(`${command}: give the plan file`);
  const plan = JSON.parse(await readFile(file, 'utf8')) as Plan;
  if (!Array.isArray(plan.stages)) throw new Error(`${file}: not a plan (no "stages" array)`);
  plan.stages = plan.stages.map((stage, i) => stage.map((t, j) => {
    try { return parseTask(t); } catch (e) { throw new Error(`${file}: stages[${i}][${j}]: ${(e as Error).message}`); }
  }));
  return plan;
}

function report(summary: RunSummary): number {
  const mvx = summary.voxels / 1e6 / Math.max(1e-3, summary.seconds);
  console.error(`${summary.done}/${summary.tasks} tasks done in ${summary.seconds.toFixed(1)} s (${mvx.toFixed(1)} MVx/s), ${summary.retries} retried, ${summary.dead.length} failed`);
  for (const d of summary.dead) console.error(`  FAILED after ${d.attempts} attempts: ${JSON.stringify(d.task)}\n    ${d.error}`);
  return summary.dead.length > 0 ? 1 : 0;
}

async function withPool<T>(threads: number, fn: (pool: ReturnType<typeof createTaskPool>) => Promise<T>): Promise<T> {
  const pool = createTaskPool(threads);
  try {
    return await fn(pool);
  } finally {
    await pool.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      out: { type: 'string' }, threads: { type: 'string' }, serve: { type: 'boolean' }, port: { type: 'string' },
      type: { type: 'string' }, dtype: { type: 'string' }, size: { type: 'string' }, resolution: { type: 'string' },
      chunk: { type: 'string' }, encoding: { type: 'string' }, block: { type: 'string' }, offset: { type: 'string' },
      factor: { type: 'string' }, mips: { type: 'string' }, channels: { type: 'string' },
      layer: { type: 'string' }, build: { type: 'string' }, axes: { type: 'string' }, 'from-mip': { type: 'string' },
      local: { type: 'boolean' }, attempts: { type: 'string' }, backend: { type: 'string' },
      mip: { type: 'string' }, lod: { type: 'string' }, simplification: { type: 'string' }, segments: { type: 'string' },
      affinities: { type: 'string' }, segmentation: { type: 'string' }, high: { type: 'string' }, low: { type: 'string' },
      'merge-threshold': { type: 'string' }, 'merge-size': { type: 'string' }, 'dust-size': { type: 'string' }, overlap: { type: 'string' },
      topic: { type: 'string' }, subscription: { type: 'string' }, 'dead-letter': { type: 'string' }, progress: { type: 'string' },
      'ack-deadline': { type: 'string' }, prefetch: { type: 'string' }, 'exit-when-idle': { type: 'string' }, 'health-port': { type: 'string' },
      'max-task-minutes': { type: 'string' }, json: { type: 'boolean' }, 'retry-backoff': { type: 'string' },
    },
  });
  const threads = values.threads ? Number(values.threads) : defaultThreads();
  // Worker threads read DIGEST_BACKEND when they first need a kernel.
  process.env.DIGEST_BACKEND = parseBackendChoice(values.backend ?? process.env.DIGEST_BACKEND, values.backend ? '--backend' : 'DIGEST_BACKEND');
  switch (command) {
    case 'demo': {
      const out = values.out ?? 'demo-data';
      const result = await withPool(threads, (pool) => runDemo({ out, execute: (t) => pool.run(t), concurrency: pool.threads * 2 }));
      const code = report(result.summary);
      const port = Number(values.port ?? 1337);
      console.log(`\nLayers written:\n  ${result.imageLayer}\n  ${result.segmentationLayer} (with meshes)\n  ${result.affinityLayer}\n  ${result.watershedLayer} (region graph: mean_graph/graph.json)`);
      console.log(`\nTo view: digest serve ${out}/layers --port ${port}   (or: digest demo --serve)`);
      console.log(`then add layers in Neuroglancer with the sources\n  precomputed://http://localhost:${port}/image\n  precomputed://http://localhost:${port}/segmentation\n  precomputed://http://localhost:${port}/watershed`);
      if (values.serve && code === 0) {
        await serveDirectory(`${out}/layers`, port);
        console.log(`serving ${out}/layers on http://localhost:${port} (Ctrl-C to stop)`);
        return new Promise(() => {});
      }
      return code;
    }
    case 'create-layer': {
      const layer = positionals[0];
      if (!layer) throw new Error('create-layer: give the layer URL');
      if (values.type !== 'image' && values.type !== 'segmentation') throw new Error('--type must be image or segmentation');
      if (!isDataType(values.dtype)) throw new Error(`--dtype "${values.dtype}" must be one of uint8, uint16, uint32, uint64, float32`);
      const encoding = (values.encoding ?? (values.type === 'segmentation' ? 'compressed_segmentation' : 'raw')) as Encoding;
      if (!ENCODINGS.includes(encoding)) throw new Error(`--encoding "${encoding}" must be one of ${ENCODINGS.join(', ')}`);
      const info = createInfo({
        type: values.type as LayerType, dataType: values.dtype as DataType, numChannels: values.channels ? Number(values.channels) : 1,
        size: vec(values.size, 'size'), resolution: vec(values.resolution, 'resolution'), voxelOffset: vec(values.offset, 'offset', [0, 0, 0]),
        chunkSize: vec(values.chunk, 'chunk', [64, 64, 64]), encoding, blockSize: vec(values.block, 'block', [8, 8, 8]),
        factor: vec(values.factor, 'factor', [2, 2, 2]), mips: values.mips === undefined ? undefined : Number(values.mips),
      });
      await Volume.create(layer, info);
      console.log(JSON.stringify(info, null, 2));
      return 0;
    }
    case 'plan': {
      const [what] = positionals;
      let plan: Plan;
      const affinityLayers = () => {
        if (!values.affinities || !values.segmentation) throw new Error(`plan ${what}: --affinities and --segmentation are required`);
        return { affinitiesPath: values.affinities, segmentationPath: values.segmentation };
      };
      if (what === 'watershed') {
        const num = (name: 'high' | 'low' | 'merge-threshold' | 'merge-size' | 'dust-size' | 'overlap') => {
          const v = values[name];
          if (v === undefined || v === '' || !Number.isFinite(Number(v))) throw new Error(`plan watershed: --${name} is required and must be a number, got ${JSON.stringify(v)}`);
          return Number(v);
        };
        plan = await planWatershed({
          ...affinityLayers(),
          params: { high_threshold: num('high'), low_threshold: num('low'), merge_threshold: num('merge-threshold'), merge_size: num('merge-size'), dust_size: num('dust-size') },
          overlap: values.overlap === undefined ? 0 : num('overlap'),
        });
      } else if (what === 'mean-graph') {
        plan = await planMeanGraph(affinityLayers());
      } else if (!values.layer) {
        throw new Error('plan: --layer is required');
      } else if (what === 'ingest') {
        if (!values.build) throw new Error('plan ingest: --build is required');
        const encoding = values.encoding ?? 'npz';
        if (!['npz', 'raw', 'png'].includes(encoding)) throw new Error(`plan ingest: --encoding "${encoding}" must be npz, raw or png`);
        if (values.axes !== undefined && values.axes !== 'xyz' && values.axes !== 'zyx') throw new Error(`plan ingest: --axes "${values.axes}" must be xyz or zyx`);
        plan = await planIngest({ layerPath: values.layer, buildPath: values.build, encoding: encoding as 'npz', axes: values.axes as 'xyz' | undefined });
      } else if (what === 'downsample') {
        plan = await planDownsample({ layerPath: values.layer, fromMip: values['from-mip'] ? Number(values['from-mip']) : 0 });
      } else if (what === 'mesh') {
        const int = (name: 'mip' | 'lod' | 'simplification') => optionalCount(values[name], name, 'plan mesh');
        const segments = values.segments ? values.segments.split(',').map((s) => s.trim()) : undefined;
        plan = await planMesh({ layerPath: values.layer, mip: int('mip'), lod: int('lod'), simplification: int('simplification'), segments });
      } else throw new Error(`plan: say "ingest", "downsample", "mesh", "watershed" or "mean-graph", not "${what ?? ''}"`);
      const text = JSON.stringify(plan, null, 1);
      if (values.out) {
        await writeFile(values.out, text);
        console.error(`${planSize(plan)} tasks in ${plan.stages.length} stage(s) -> ${values.out}`);
      } else console.log(text);
      return 0;
    }
    case 'run': {
      if (!values.local) throw new Error('run: only --local is available here (Pub/Sub workers: digest publish + digest work)');
      const plan = await loadPlan(positionals[0], 'run --local');
      const summary = await withPool(threads, (pool) => runPlan(plan, (t) => pool.run(t), { concurrency: pool.threads * 2, maxAttempts: values.attempts ? Number(values.attempts) : 3 }));
      return report(summary);
    }
    case 'publish': {
      const plan = await loadPlan(positionals[0], 'publish');
      const topic = required(values.topic, 'topic', 'DIGEST_TOPIC');
      await publishPlan(plan, {
        topic,
        subscription: required(values.subscription, 'subscription', 'DIGEST_SUBSCRIPTION'),
        deadLetterTopic: values['dead-letter'] ?? `${topic}-dead`,
        maxAttempts: Number(values.attempts ?? 5),
        ackDeadline: values['ack-deadline'] ? Number(values['ack-deadline']) : undefined,
        retryBackoff: values['retry-backoff'] ? parseBackoff(values['retry-backoff']) : undefined,
        progressUrl: required(values.progress, 'progress', 'DIGEST_PROGRESS'),
      });
      console.error(`all ${planSize(plan)} tasks done`);
      return 0;
    }
    case 'work': {
      // An empty environment variable counts as unset.
      const number = (v: string | undefined, name: string) => optionalCount(v || undefined, name, 'work');
      const summary = await work({
        subscription: required(values.subscription, 'subscription', 'DIGEST_SUBSCRIPTION'),
        threads,
        prefetch: number(values.prefetch ?? process.env.DIGEST_PREFETCH, 'prefetch') ?? threads,
        exitWhenIdleSeconds: number(values['exit-when-idle'] ?? process.env.DIGEST_EXIT_WHEN_IDLE, 'exit-when-idle'),
        healthPort: number(values['health-port'] ?? process.env.DIGEST_HEALTH_PORT, 'health-port'),
        maxTaskMinutes: number(values['max-task-minutes'], 'max-task-minutes'),
        maxAckDeadlineSeconds: number(values['ack-deadline'], 'ack-deadline'),
      });
      return summary.failed > 0 && summary.done === 0 ? 1 : 0;
    }
    case 'status': {
      const progress = new ProgressStore(required(values.progress, 'progress', 'DIGEST_PROGRESS'));
      const stages = await progress.status();
      if (values.json) console.log(JSON.stringify(stages));
      else {
        for (const [i, s] of stages.entries()) console.log(`stage ${i + 1}: ${s.tasks} tasks, ${s.published ? `${s.done} done, ${s.dead} dead, ${s.backlog} backlog` : 'not published yet'}`);
        const total = stages.reduce((n, s) => n + s.tasks, 0), done = stages.reduce((n, s) => n + s.done, 0);
        console.log(`${done}/${total} done`);
      }
      return 0;
    }
    case 'task': {
      if (!positionals[0]) throw new Error("task: give the task JSON, e.g. digest task '{\"kind\":\"downsample\",...}'");
      console.log(JSON.stringify(await runTask(positionals[0])));
      return 0;
    }
    case 'serve': {
      const dir = positionals[0] ?? '.';
      const port = Number(values.port ?? 1337);
      await serveDirectory(dir, port);
      console.log(`serving ${dir} on http://localhost:${port} with CORS (Ctrl-C to stop)`);
      return new Promise(() => {});
    }
    case undefined: case 'help': case '--help': case '-h':
      console.log(USAGE);
      return 0;
    default:
      console.error(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

// Node's own warnings (e.g. from the Google clients) as structured log lines too.
process.removeAllListeners('warning');
process.on('warning', (w) => logEvent('WARNING', w.message, { name: w.name }));

main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
  console.error(`digest: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
