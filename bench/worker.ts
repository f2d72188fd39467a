// Benchmark: one `digest work` process on the Pub/Sub emulator, with and without prefetching, running
// a published downsample plan (every mip above 0, each task reading 8 chunks) of a synthetic uint8
// image (default 256^3, 32^3 chunks) on gs:// served by the GCS JSON API test server with added
// latency (default 25 ms per request, as cloud storage has). Mip 0 is ingested first, untimed.
// Prints a markdown block for bench/RESULTS.md.
//   node dist/bench/worker.js [--size 256] [--latency 25] [--threads 2] [--prefetch 4]
import { spawn } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encodeNpy, encodeNpz } from '../sources/npz.js';
import { publishPlan } from '../queue/pubsub/publish.js';
import { configurePubsub, ensureQueue } from '../queue/pubsub/client.js';
import { configureStorage } from '../storage/options.js';
import { synthesize } from '../demo/synthetic.js';
import { box, chunkKey, Vec3 } from '../common/box.js';
import { createInfo } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { openStore } from '../storage/open.js';
import { runPlan } from '../queue/local/run.js';
import { planDownsample, planIngest, planSize } from '../tasks/plan/planners.js';
import { runTask } from '../tasks/registry.js';
import { GcsTestServer } from '../test/gcs-server.js';
import { pubsubEmulator } from '../test/pubsub-emulator.js';

const { values } = parseArgs({ options: { size: { type: 'string' }, latency: { type: 'string' }, threads: { type: 'string' }, prefetch: { type: 'string' } } });
const size = Number(values.size ?? 256);
const threads = values.threads ?? '2';
const prefetch = values.prefetch ?? '4';
const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

async function main(): Promise<void> {
  const emulator = await pubsubEmulator();
  if (!emulator) throw new Error('bench: the Pub/Sub emulator is needed (gcloud beta emulators pubsub start)');
  const gcs = new GcsTestServer();
  const env = {
    ...process.env,
    DIGEST_PROJECT: 'digest-bench',
    PUBSUB_EMULATOR_HOST: emulator.host,
    STORAGE_EMULATOR_HOST: await gcs.start(),
    DIGEST_BACKEND: 'cpu',
  };
  Object.assign(process.env, env);
  configureStorage({ gcsEndpoint: env.STORAGE_EMULATOR_HOST });
  configurePubsub('digest-bench');
  const lines: string[] = [];
  const say = (s: string) => {
    lines.push(s);
    console.error(s);
  };
  say(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; worker threads ${threads}; storage latency ${values.latency ?? 25} ms`,
  );
  const shape: Vec3 = [size, size, size],
    build: Vec3 = [128, 128, 128];
  const store = openStore('gs://bench/build');
  for (let z = 0; z < size; z += build[2])
    for (let y = 0; y < size; y += build[1])
      for (let x = 0; x < size; x += build[0]) {
        const region = box([x, y, z], [x + build[0], y + build[1], z + build[2]]);
        await store.put(`${chunkKey(region)}.npz`, encodeNpz({ data: encodeNpy(synthesize(region).image, build) }));
      }
  try {
    for (const depth of ['0', prefetch]) {
      const layer = `gs://bench/image-prefetch-${depth}`;
      await Volume.create(
        layer,
        createInfo({ type: 'image', dataType: 'uint8', encoding: 'raw', size: shape, resolution: [8, 8, 8], chunkSize: [32, 32, 32] }),
      );
      const ingest = await planIngest({ layerPath: layer, buildPath: 'gs://bench/build', encoding: 'npz' });
      await runPlan({ ...ingest, stages: [ingest.stages[0]] }, runTask, { concurrency: 4, progress: false });
      // One chunk per task, as before multi-mip tasks: the bench measures prefetching, not task size.
      const plan = await planDownsample({ layerPath: layer, memory: 1 << 20 });
      const names = {
        topic: `bench-${depth}-${Date.now()}`,
        subscription: `bench-work-${depth}-${Date.now()}`,
        deadLetterTopic: `bench-dead-${depth}-${Date.now()}`,
        maxAttempts: 5,
      };
      await ensureQueue(names);
      gcs.latencyMs = Number(values.latency ?? 25);
      const worker = spawn(process.execPath, [cli, 'work', '--subscription', names.subscription, '--threads', threads, '--prefetch', depth], {
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let log = '';
      worker.stderr!.on('data', (c: Buffer) => {
        log += c.toString();
      });
      const started = performance.now();
      await publishPlan(plan, { ...names, progressUrl: `gs://bench/progress-${depth}`, pollMs: 100 });
      const seconds = (performance.now() - started) / 1000;
      gcs.latencyMs = 0;
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
      const stopped = log
        .split('\n')
        .filter((l) => l.includes('"message":"worker stopped"'))
        .map((l) => JSON.parse(l))[0];
      say(
        `| prefetch ${depth} | ${planSize(plan)} tasks in ${plan.stages.length} stages | ${seconds.toFixed(1)} s | ${(planSize(plan) / seconds).toFixed(1)} tasks/s | ${(size ** 3 / 1e6 / seconds).toFixed(1)} MVx/s | worker peak RSS ${stopped?.peakRssMiB ?? '?'} MiB |`,
      );
    }
  } finally {
    await gcs.stop();
    emulator.stop();
  }
  console.log(lines.join('\n'));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
