// Benchmark: how fast `digest publish` puts a stage on the Pub/Sub emulator, one task a message and
// in ranges the workers expand. The stage is Downsample tasks of 1-voxel chunks of an empty layer
// (planned, never run: no workers); each run publishes one whole stage into a fresh topic and stops.
// Prints a markdown table for bench/RESULTS.md.
//   node dist/bench/publish-rate.js [--runs 100000:1,1000000:100,10000000:100]
import { mkdtemp } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ProgressStore } from '../queue/progress/store.js';
import { configurePubsub } from '../queue/pubsub/client.js';
import { publishPlan } from '../queue/pubsub/publish.js';
import { createInfo } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { planDownsample, stageSize } from '../tasks/plan/planners.js';
import { pubsubEmulator } from '../test/pubsub-emulator.js';

const { values } = parseArgs({ options: { runs: { type: 'string' } } });
const runs = (values.runs ?? '100000:1,1000000:100,10000000:100').split(',').map((r) => r.split(':').map(Number) as [number, number]);

const emulator = await pubsubEmulator();
if (!emulator) throw new Error('bench: the Pub/Sub emulator is needed');
Object.assign(process.env, { DIGEST_PROJECT: 'digest-bench', PUBSUB_EMULATOR_HOST: emulator.host });
configurePubsub('digest-bench');
console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}\n`);
console.log('| tasks | tasks a message | messages | publish time | messages/s | tasks/s | publisher peak RSS |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
try {
  for (const [tasks, perMessage] of runs) {
    const dir = await mkdtemp(join(tmpdir(), 'digest-publish-rate-'));
    const layer = `file://${join(dir, 'layer')}`;
    // mip 1 of [2000, 2 * tasks / 1000, 1] in 1x1x1 chunks: `tasks` Downsample tasks.
    const size: [number, number, number] = [2000, Math.ceil(tasks / 1000) * 2, 1];
    await Volume.create(
      layer,
      createInfo({ type: 'image', dataType: 'uint8', encoding: 'raw', size, resolution: [8, 8, 8], chunkSize: [1, 1, 1], factors: [[2, 2, 1]], mips: 1 }),
    );
    const plan = await planDownsample({ layerPath: layer });
    const n = stageSize(plan.stages[0]);
    const id = `${Date.now()}`;
    const progressUrl = `file://${join(dir, 'progress')}`;
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 200);
    const t0 = performance.now();
    // No workers: the publisher publishes the stage, then gives up waiting for it at once.
    await publishPlan(plan, {
      topic: `rate-${id}`,
      subscription: `rate-work-${id}`,
      deadLetterTopic: `rate-dead-${id}`,
      maxAttempts: 5,
      progressUrl,
      tasksPerMessage: perMessage,
      pollMs: 100,
      timeoutMs: 1,
    }).catch(() => {});
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const published = await new ProgressStore(progressUrl).published(0);
    if (published !== n) throw new Error(`published ${published} of ${n}`);
    const messages = Math.ceil(n / perMessage);
    console.log(
      `| ${n.toLocaleString('en')} | ${perMessage} | ${messages.toLocaleString('en')} | ${seconds.toFixed(1)} s | ${Math.round(messages / seconds).toLocaleString('en')} | ${Math.round(n / seconds).toLocaleString('en')} | ${Math.round(peak / 2 ** 20)} MiB |`,
    );
  }
} finally {
  emulator.stop();
}
