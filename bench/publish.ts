// Benchmark: publishing and tracking a plan of many small tasks on the Pub/Sub emulator. A plan of
// `--tasks` Downsample tasks (each a 1-voxel chunk from 4 children, on file://) is published by a
// `digest publish` process while `--workers` `digest work` processes run it; the publisher's resident
// memory is sampled every second, and `digest status` is read throughout: its done count must only
// grow and never pass the truth. Prints a markdown block for bench/RESULTS.md.
//   node dist/bench/publish.js [--tasks 100000] [--workers 2]
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ProgressStore } from '../queue/progress/store.js';
import { configurePubsub, ensureQueue } from '../queue/pubsub/client.js';
import { box, Vec3 } from '../common/box.js';
import { allChunks, chunksWithin, createInfo } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { configureStorage } from '../storage/options.js';
import { planDownsample, stageSize } from '../tasks/plan/planners.js';
import { pubsubEmulator } from '../test/pubsub-emulator.js';

const { values } = parseArgs({ options: { tasks: { type: 'string' }, workers: { type: 'string' } } });
const tasks = Number(values.tasks ?? 100_000);
const workers = Number(values.workers ?? 2);
const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function main(): Promise<void> {
  const emulator = await pubsubEmulator();
  if (!emulator) throw new Error('bench: the Pub/Sub emulator is needed');
  const env = { ...process.env, DIGEST_PROJECT: 'digest-bench', PUBSUB_EMULATOR_HOST: emulator.host, DIGEST_BACKEND: 'cpu', DIGEST_NO_FSYNC: '1' };
  Object.assign(process.env, env);
  configurePubsub('digest-bench');
  configureStorage({ fsync: false });
  const lines: string[] = [];
  const say = (s: string) => {
    lines.push(s);
    console.error(s);
  };
  say(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; ${workers} workers x 1 thread`,
  );
  // mip 1 of [2w, 2h, 1] in 1x1x1 chunks has w*h chunks: one task each.
  const w = 500,
    h = Math.ceil(tasks / w);
  const dir = await mkdtemp(join(tmpdir(), 'digest-publish-bench-'));
  const layer = `file://${join(dir, 'layer')}`;
  const size: Vec3 = [2 * w, 2 * h, 1];
  const volume = await Volume.create(
    layer,
    createInfo({ type: 'image', dataType: 'uint8', encoding: 'raw', size, resolution: [8, 8, 8], chunkSize: [1, 1, 1], factors: [[2, 2, 1]], mips: 1 }),
  );
  const t0 = performance.now();
  for (let y = 0; y < size[1]; y += 20) {
    const rows = box([0, y, 0], [size[0], Math.min(y + 20, size[1]), 1]);
    await volume.writeChunks(0, chunksWithin(volume.scale(0), rows), new Uint8Array(size[0] * (rows.stop[1] - y)).fill(5), rows);
  }
  say(`wrote ${allChunks(volume.scale(0)).length} mip-0 chunks in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const plan = await planDownsample({ layerPath: layer, memory: 1 << 20 });
  const n = stageSize(plan.stages[0]);
  const planFile = join(dir, 'plan.json');
  await writeFile(planFile, JSON.stringify(plan));
  const names = { topic: `pb-${Date.now()}`, subscription: `pb-work-${Date.now()}`, deadLetterTopic: `pb-dead-${Date.now()}`, maxAttempts: 5 };
  await ensureQueue(names);
  const progressUrl = `file://${join(dir, 'progress')}`;
  const workerProcs = Array.from({ length: workers }, () =>
    spawn(process.execPath, [cli, 'work', '--subscription', names.subscription, '--threads', '1', '--prefetch', '8'], { env, stdio: 'ignore' }),
  );
  const started = performance.now();
  const publisher = spawn(
    process.execPath,
    [
      cli,
      'publish',
      planFile,
      '--topic',
      names.topic,
      '--subscription',
      names.subscription,
      '--dead-letter',
      names.deadLetterTopic,
      '--progress',
      progressUrl,
      '--poll',
      '2',
    ],
    { env, stdio: 'ignore' },
  );
  const exit = new Promise<number | null>((r) => publisher.once('exit', r));
  let finished = false;
  void exit.then(() => {
    finished = true;
  });
  const rss: number[] = [],
    polls: { t: number; done: number }[] = [];
  const progress = new ProgressStore(progressUrl);
  while (!finished) {
    rss.push(await rssMiB(publisher.pid!));
    const s = await progress.stageStatus(0).catch(() => undefined);
    if (s) polls.push({ t: (performance.now() - started) / 1000, done: s.done });
    await new Promise((r) => setTimeout(r, 1000));
  }
  const seconds = (performance.now() - started) / 1000;
  const code = await exit;
  for (const p of workerProcs) p.kill('SIGTERM');
  const final = await progress.stageStatus(0);
  const monotone = polls.every((p, i) => i === 0 || p.done >= polls[i - 1].done);
  const samples = rss.filter((x) => x > 0);
  const quarter = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
  say(
    `| ${n} tasks, ${workers} workers | publisher exit ${code}; ${seconds.toFixed(0)} s (${(n / seconds).toFixed(0)} tasks/s) | publisher RSS MiB at 10/50/90/100% of the run: ${[
      0.1, 0.5, 0.9,
    ]
      .map(quarter)
      .map((x) => x.toFixed(0))
      .join(
        ' / ',
      )} / ${samples[samples.length - 1]?.toFixed(0)}, max ${Math.max(...samples).toFixed(0)} | ${polls.length} status reads, done only grew: ${monotone}, never above ${n}: ${polls.every((p) => p.done <= n)}; final ${final.done} done, ${final.dead} dead |`,
  );
  emulator.stop();
  console.log(lines.join('\n'));
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
