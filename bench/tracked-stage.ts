// Benchmark: a stage of 10^6 tasks published, worked and tracked on the Pub/Sub emulator. The stage
// is the Downsample of a uint8 image of 2x2x1-voxel mip-0 chunks into 1-voxel mip-1 chunks on
// file:// (one mip-0 chunk read and one chunk written a task), so the queue, not the kernels, is
// what is measured. Two `digest work` processes (one thread each) run it; the first is killed with
// SIGKILL a third of the way through and a third worker takes its place. `digest status` is timed
// as it runs; at the end the records are checked: together they hold every task, and no task twice.
// Prints a markdown block for bench/RESULTS.md.
//   node dist/bench/tracked-stage.js [--tasks 1000000] [--tasks-per-message N] [--dir D]
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createInfo } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { configurePubsub, ensureQueue } from '../queue/pubsub/client.js';
import { publishPlan } from '../queue/pubsub/publish.js';
import { Bitmap, decodeRecord, ProgressStore } from '../queue/progress/store.js';
import { planDownsample, stageSize } from '../tasks/plan/planners.js';
import { pubsubEmulator } from '../test/pubsub-emulator.js';

const { values } = parseArgs({ options: { tasks: { type: 'string' }, 'tasks-per-message': { type: 'string' }, dir: { type: 'string' } } });
const wanted = Number(values.tasks ?? 1_000_000);
const perMessage = values['tasks-per-message'] ? Number(values['tasks-per-message']) : undefined;
const dir = values.dir ?? '/tmp/digest-bench-tracked-stage';
const cli = join(import.meta.dirname, '..', 'cli', 'main.js');
const mib = (b: number) => `${Math.round(b / 2 ** 20)} MiB`;

/** A stage's record files (not the temporary files of a write under way). */
function recordFiles(recordsDir: string): string[] {
  try {
    return readdirSync(recordsDir).filter((f) => !f.includes('.tmp-'));
  } catch {
    return [];
  }
}
/** A file's size, 0 if it is gone (rewritten meanwhile). */
function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

const emulator = await pubsubEmulator();
if (!emulator) throw new Error('bench: the Pub/Sub emulator is needed (gcloud beta emulators pubsub start)');
const env = { ...process.env, DIGEST_PROJECT: 'digest-bench', PUBSUB_EMULATOR_HOST: emulator.host, DIGEST_BACKEND: 'cpu' };
Object.assign(process.env, env);
configurePubsub('digest-bench');
console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`);

try {
  rmSync(dir, { recursive: true, force: true });
  // mip 1 of 1000 x ceil(tasks/1000) one-voxel chunks; mip 0 of 2x2x1 chunks, one file each.
  const rows = Math.ceil(wanted / 1000);
  const layer = `file://${join(dir, 'layer')}`;
  const info = createInfo({
    type: 'image',
    dataType: 'uint8',
    encoding: 'raw',
    size: [2000, 2 * rows, 1],
    resolution: [8, 8, 8],
    chunkSize: [1, 1, 1],
    factors: [[2, 2, 1]],
    mips: 1,
  });
  info.scales[0].chunk_sizes = [[2, 2, 1]];
  await Volume.create(layer, info);
  const mip0 = join(dir, 'layer', info.scales[0].key);
  mkdirSync(mip0, { recursive: true });
  const t0 = performance.now();
  for (let y = 0; y < 2 * rows; y += 2)
    for (let x = 0; x < 2000; x += 2) writeFileSync(join(mip0, `${x}-${x + 2}_${y}-${y + 2}_0-1`), Uint8Array.of(x & 255, y & 255, (x + y) & 255, 7));
  console.log(`mip 0 written: ${1000 * rows} chunk files in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const plan = await planDownsample({ layerPath: layer });
  const n = stageSize(plan.stages[0]);
  const id = `${Date.now()}`;
  const names = { topic: `tracked-${id}`, subscription: `tracked-work-${id}`, deadLetterTopic: `tracked-dead-${id}`, maxAttempts: 5 };
  const progressUrl = `file://${join(dir, 'progress')}`;
  await ensureQueue(names);

  const workers: { name: string; child: ReturnType<typeof spawn>; log: string }[] = [];
  const startWorker = (name: string) => {
    const log = join(dir, `${name}.log`);
    const fd = openSync(log, 'w');
    const child = spawn(process.execPath, [cli, 'work', '--subscription', names.subscription, '--threads', '1'], { env, stdio: ['ignore', 'ignore', fd] });
    workers.push({ name, child, log });
  };
  startWorker('worker-a');
  startWorker('worker-b');

  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 200);
  const store = new ProgressStore(progressUrl);
  const statusTimes: { done: number; seconds: number; records: number; bytes: number }[] = [];
  let killed: { rss: number; done: number } | undefined;
  let published = -1;
  const started = performance.now();
  let publishSeconds = 0;
  // Every 20 s: `digest status` timed (a process, as an operator runs it), the records' sizes, and the kill at a third.
  const watch = setInterval(() => {
    const recordsDir = join(dir, 'progress', 'records', '0');
    const files = recordFiles(recordsDir);
    const bytes = files.reduce((s, f) => s + sizeOf(join(recordsDir, f)), 0);
    const s0 = performance.now();
    const run = spawnSync(process.execPath, [cli, 'status', '--progress', progressUrl, '--json'], { env, encoding: 'utf8' });
    const seconds = (performance.now() - s0) / 1000;
    if (run.status !== 0) return;
    const [stage] = JSON.parse(run.stdout) as { done: number; published: number }[];
    if (published < 0 && stage.published === n) publishSeconds = (performance.now() - started) / 1000;
    published = stage.published;
    statusTimes.push({ done: stage.done, seconds, records: files.length, bytes });
    const doomed = workers[0];
    if (!killed && stage.done >= n / 3 && doomed.child.exitCode === null) {
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${doomed.child.pid}/status`, 'utf8'));
      doomed.child.kill('SIGKILL');
      killed = { rss: Number(hwm?.[1] ?? 0) * 1024, done: stage.done };
      startWorker('worker-c');
    }
  }, 20_000);
  await publishPlan(plan, { ...names, progressUrl, pollMs: 2000, tasksPerMessage: perMessage, timeoutMs: 6 * 3600_000 });
  const seconds = (performance.now() - started) / 1000;
  clearInterval(watch);
  clearInterval(sampler);
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => (w.child.exitCode !== null || w.child.signalCode !== null ? undefined : new Promise((r) => w.child.once('exit', r)))));

  // The records: each task in exactly one of them.
  const recordsDir = join(dir, 'progress', 'records', '0');
  const files = recordFiles(recordsDir);
  const sizes = files.map((f) => sizeOf(join(recordsDir, f)));
  let recorded = 0;
  const union = Bitmap.of(n);
  for (const f of files) {
    const { done } = decodeRecord(readFileSync(join(recordsDir, f)), f, n);
    recorded += done.count();
    union.or(done);
  }
  const distinct = union.count();
  const status = await store.stageStatus(0);
  const stopped = workers.map((w) => {
    const line = readFileSync(w.log, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"message":"worker stopped"'))
      .map((l) => JSON.parse(l) as { done: number; peakRssMiB: number })[0];
    return { name: w.name, line };
  });
  console.log(
    `\n${n.toLocaleString('en')} tasks, ${perMessage ?? 'default'} a message; workers: 2 x \`digest work --threads 1\`, worker-a killed (SIGKILL) at ${killed?.done.toLocaleString('en')} done, worker-c started then\n`,
  );
  console.log(`| stage time | published after | tasks/s | publisher peak RSS | done | dead | tasks in the records | distinct |`);
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  console.log(
    `| ${seconds.toFixed(0)} s | ${publishSeconds ? `${publishSeconds.toFixed(0)} s` : '?'} | ${Math.round(n / seconds)} | ${mib(peak)} | ${status.done} | ${status.dead} | ${recorded} | ${distinct} |`,
  );
  console.log('\n| worker | tasks run (its log) | peak RSS |');
  console.log('| --- | --- | --- |');
  for (const { name, line } of stopped)
    console.log(
      name === 'worker-a'
        ? `| ${name} (killed) | - | ${mib(killed?.rss ?? 0)} (VmHWM at the kill) |`
        : `| ${name} | ${line?.done ?? '?'} | ${line?.peakRssMiB ?? '?'} MiB |`,
    );
  console.log(`\nrecords at the end: ${files.length}, ${sizes.map((s) => `${s} B`).join(', ')}`);
  console.log('\n| done when `digest status` ran | its time | records | their bytes |');
  console.log('| --- | --- | --- | --- |');
  for (const s of statusTimes.filter((_, i, all) => i % Math.max(1, Math.floor(all.length / 8)) === 0 || i === all.length - 1))
    console.log(`| ${s.done.toLocaleString('en')} | ${s.seconds.toFixed(2)} s | ${s.records} | ${s.bytes.toLocaleString('en')} |`);
  if (recorded !== n || distinct !== n) throw new Error(`records hold ${recorded} tasks, ${distinct} distinct, of ${n}`);
} finally {
  emulator.stop();
}
