// The cloud path for real: the Pub/Sub emulator, gs:// through the GCS JSON API test server, and
// `digest work` processes, one of them killed in the middle of a task.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy, encodeNpz } from '../../sources/npz.js';
import { box, chunkKey, Vec3 } from '../../common/box.js';
import { allChunks, createInfo, scaleBounds } from '../../precomputed/info.js';
import { Volume } from '../../precomputed/volume.js';
import { openStore } from '../../storage/open.js';
import { listPlan, Plan, planDownsample, planIngest, stageSize } from '../../tasks/plan/planners.js';
import { mergeStages } from '../../tasks/plan/format.js';
import { GcsTestServer } from '../../test/gcs-server.js';
import { Emulator, pubsubEmulator } from '../../test/pubsub-emulator.js';
import { referencePyramid } from '../../test/reference.js';
import { decodeRecord, ProgressStore } from '../progress/store.js';
import { listAll } from '../../storage/store.js';
import { publishPlan } from './publish.js';
import { configurePubsub, pubsub } from './client.js';
import { configureStorage } from '../../storage/options.js';
import { synthesize } from '../../demo/synthetic.js';

const cli = join(__dirname, '..', '..', 'dist', 'cli', 'main.js');
const gcs = new GcsTestServer();
let emulator: Emulator | undefined;
// The backend is left to auto, which logs its choice: in `digest work` that line must be JSON too.
const env: Record<string, string> = { DIGEST_PROJECT: 'digest-test' };

beforeAll(async () => {
  emulator = await pubsubEmulator();
  env.STORAGE_EMULATOR_HOST = await gcs.start();
  if (emulator) env.PUBSUB_EMULATOR_HOST = emulator.host;
  // This process: the Google clients read PUBSUB_EMULATOR_HOST themselves; digest's stores and
  // Pub/Sub client take theirs from the configuration, as the CLI passes it.
  Object.assign(process.env, env);
  configureStorage({ gcsEndpoint: env.STORAGE_EMULATOR_HOST, retryDelayMs: 50 });
  configurePubsub('digest-test');
});
afterAll(async () => {
  await gcs.stop();
  emulator?.stop();
});

interface Worker {
  child: ChildProcess;
  lines: string[];
  exit: Promise<number | null>;
  waitFor(message: string): Promise<void>;
}

function startWorker(args: string[]): Worker {
  const child = spawn(process.execPath, [cli, 'work', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const lines: string[] = [];
  const waiters: { message: string; resolve: () => void }[] = [];
  let rest = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString()).split('\n');
    rest = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const w of waiters) if (line.includes(`"message":"${w.message}"`)) w.resolve();
    }
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, lines, exit, waitFor: (message) => new Promise((resolve) => waiters.push({ message, resolve })) };
}

/** Fresh queue names under `prefix` (topic, its subscription and dead-letter topic): 5 attempts, a 10 s ack deadline. */
function queueNames(prefix: string, retryBackoff?: [number, number]) {
  const id = `${prefix}-${Date.now()}`;
  return { topic: id, subscription: `${id}-work`, deadLetterTopic: `${id}-dead`, maxAttempts: 5, ackDeadline: 10, ...(retryBackoff ? { retryBackoff } : {}) };
}

/**
 * A layer of `w` x `h` one-voxel chunks (voxel i = i * `step` mod 251) in a new directory, and the
 * plan of its mip 1: one Downsample task per chunk of it, w * h / 4 of them.
 */
async function oneVoxelChunks(prefix: string, w: number, h: number, step: number) {
  const dir = await mkdtemp(join(tmpdir(), `digest-${prefix}-`));
  const layer = `file://${join(dir, 'layer')}`;
  const info = createInfo({
    type: 'image',
    dataType: 'uint8',
    encoding: 'raw',
    size: [w, h, 1],
    resolution: [8, 8, 8],
    chunkSize: [1, 1, 1],
    factors: [[2, 2, 1]],
    mips: 1,
  });
  const volume = await Volume.create(layer, info);
  const values = Uint8Array.from({ length: w * h }, (_, i) => (i * step) % 251);
  await volume.writeChunks(0, allChunks(volume.scale(0)), values, volume.bounds(0));
  const plan = await planDownsample({ layerPath: layer });
  return { dir, volume, values, plan, n: stageSize(plan.stages[0]) };
}

/** A 32^3 uint8 image layer in 16^3 chunks, every voxel `value`: one downsample task's input. */
async function filledLayer(url: string, value: number): Promise<Volume> {
  const volume = await Volume.create(
    url,
    createInfo({ type: 'image', dataType: 'uint8', encoding: 'raw', size: [32, 32, 32], resolution: [8, 8, 8], chunkSize: [16, 16, 16] }),
  );
  await volume.writeChunks(0, allChunks(volume.scale(0)), new Uint8Array(32 ** 3).fill(value), box([0, 0, 0], [32, 32, 32]));
  return volume;
}

async function writeBuild(url: string, size: Vec3, build: Vec3, pick: (s: ReturnType<typeof synthesize>) => Uint8Array | BigUint64Array) {
  const store = openStore(url);
  for (let z = 0; z < size[2]; z += build[2])
    for (let y = 0; y < size[1]; y += build[1])
      for (let x = 0; x < size[0]; x += build[0]) {
        const region = box([x, y, z], [x + build[0], y + build[1], z + build[2]]);
        await store.put(`${chunkKey(region)}.npz`, encodeNpz({ data: encodeNpy(pick(synthesize(region)), build) }));
      }
}

describe('Pub/Sub workers', () => {
  it('run a published ingest + downsample plan to the end, though one worker is killed mid-task', async (ctx) => {
    if (!emulator) return ctx.skip();
    const size: Vec3 = [128, 128, 64],
      build: Vec3 = [64, 64, 32];
    const common = { size, resolution: [8, 8, 8] as Vec3, chunkSize: [32, 32, 16] as Vec3 };
    const layers = {
      image: {
        url: 'gs://e2e/image',
        info: createInfo({ ...common, type: 'image', dataType: 'uint8', encoding: 'raw' }),
        pick: (s: ReturnType<typeof synthesize>) => s.image,
      },
      segmentation: {
        url: 'gs://e2e/segmentation',
        info: createInfo({ ...common, type: 'segmentation', dataType: 'uint64', encoding: 'compressed_segmentation' }),
        pick: (s: ReturnType<typeof synthesize>) => s.labels,
      },
    };
    const plans: Plan[] = [];
    for (const [name, l] of Object.entries(layers)) {
      await Volume.create(l.url, l.info);
      await writeBuild(`gs://e2e/build/${name}`, size, build, l.pick);
      plans.push(await planIngest({ layerPath: l.url, buildPath: `gs://e2e/build/${name}`, encoding: 'npz' }));
    }
    const plan: Plan = { version: 2, layer_path: 'gs://e2e', stages: plans[0].stages.map((s, i) => mergeStages(s.name, [s, plans[1].stages[i]])) };
    expect(plan.stages.length).toBeGreaterThan(1);

    const names = queueNames('tasks', [1, 2]);
    const workerArgs = ['--subscription', names.subscription, '--threads', '2', '--prefetch', '2', '--ack-deadline', '10', '--health-port', '0'];
    // The queue must exist before the workers subscribe; publishPlan would create it too.
    const { ensureQueue } = await import('./client.js');
    await ensureQueue(names);
    // The first worker is alone until it has started a task (so it surely holds some), then killed;
    // the second takes over everything, including what the first held once its lease runs out.
    const doomed = startWorker(workerArgs);
    const published = publishPlan(plan, { ...names, progressUrl: 'gs://e2e/progress', pollMs: 300, timeoutMs: 120_000 });
    await doomed.waitFor('task started');
    const survivor = startWorker(workerArgs);
    doomed.child.kill('SIGKILL');
    expect(await doomed.exit).toBe(null); // killed, not exited
    await published;

    // Every task done once at least; nothing dead; every chunk of every mip equal to the reference.
    const status = await new ProgressStore('gs://e2e/progress').status();
    expect(status.map((s) => [s.done, s.dead, s.backlog])).toEqual(plan.stages.map((s) => [stageSize(s), 0, 0]));
    const printed = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [cli, 'status', '--progress', 'gs://e2e/progress', '--json'], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let out = '';
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
      });
      child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`digest status exited ${code}`))));
    });
    expect(JSON.parse(printed)).toEqual(status); // the CLI view of the same markers
    for (const l of Object.values(layers)) {
      const volume = await Volume.open(l.url);
      const whole = synthesize(box([0, 0, 0], size));
      const want = referencePyramid(volume.info, l.pick(whole));
      for (let mip = 0; mip < volume.info.scales.length; mip++) {
        for (const c of allChunks(volume.scale(mip))) expect(await volume.store.exists(volume.chunkPath(mip, c))).toBe(true);
        expect(Array.from((await volume.read(mip, scaleBounds(volume.scale(mip)))) as ArrayLike<number | bigint>)).toEqual(want[mip]);
      }
    }
    // What the killed worker held came back to the survivor as a second delivery.
    const redelivered = survivor.lines
      .filter((l) => l.includes('"message":"task started"'))
      .map((l) => JSON.parse(l))
      .filter((e) => e.attempt >= 2);
    expect(redelivered.length).toBeGreaterThanOrEqual(1);

    // SIGTERM: the survivor drains and exits cleanly.
    survivor.child.kill('SIGTERM');
    expect(await survivor.exit).toBe(0);
    expect(survivor.lines.some((l) => l.includes('"message":"draining"'))).toBe(true);
    expect(survivor.lines.some((l) => l.includes('"message":"worker stopped"'))).toBe(true);
    for (const line of survivor.lines) expect(() => JSON.parse(line), line).not.toThrow(); // structured logs only
    expect(survivor.lines.some((l) => JSON.parse(l).message.startsWith('kernels on'))).toBe(true); // the pool threads' line too
  });

  it('goes on after the publisher is killed mid-stage: nothing lost, counts exact, duplicates within the window', async (ctx) => {
    if (!emulator) return ctx.skip();
    const { dir, volume, values, plan, n } = await oneVoxelChunks('republish', 80, 50, 37);
    expect(n).toBe(1000);
    const planFile = join(dir, 'plan.json');
    await writeFile(planFile, JSON.stringify(plan));
    const progressUrl = `file://${join(dir, 'progress')}`;
    const names = queueNames('many', [1, 2]);
    const { ensureQueue } = await import('./client.js');
    await ensureQueue(names);
    const args = ['--subscription', names.subscription, '--threads', '2', '--prefetch', '2'];
    const workers = [startWorker(args), startWorker(args)];
    const publish = () =>
      spawn(
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
          '--max-in-flight',
          '20',
          '--poll',
          '0.3',
          '--retry-backoff',
          '1,2',
          '--ack-deadline',
          '10',
        ],
        { env: { ...process.env, ...env }, stdio: 'ignore' },
      );
    // Kill the first publisher once it has recorded some of the stage as published, long before all.
    const first = publish();
    const progress = new ProgressStore(progressUrl);
    let published = 0;
    while ((published = await progress.published(0).catch(() => 0)) < 200) await new Promise((r) => setTimeout(r, 20));
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    expect(published).toBeLessThan(n);
    // The second picks up where the record says; status never counts past the truth.
    const second = publish();
    const polls: number[] = [];
    const exited = new Promise<number | null>((r) => second.once('exit', r));
    let done = false;
    void exited.then(() => {
      done = true;
    });
    while (!done) {
      polls.push((await progress.stageStatus(0)).done);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await exited).toBe(0);
    for (let i = 1; i < polls.length; i++) expect(polls[i]).toBeGreaterThanOrEqual(polls[i - 1]);
    expect(Math.max(...polls)).toBeLessThanOrEqual(n);
    const status = await progress.stageStatus(0);
    expect(status).toMatchObject({ tasks: n, published: n, done: n, dead: 0, backlog: 0 });
    for (const w of workers) w.child.kill('SIGTERM');
    for (const w of workers) expect(await w.exit).toBe(0);
    // Every task ran; at most the window in flight at the kill ran twice.
    const started = workers
      .flatMap((w) => w.lines)
      .filter((l) => l.includes('"message":"task started"'))
      .map((l) => JSON.parse(l).index as number);
    expect(new Set(started).size).toBe(n);
    expect(started.length - n).toBeLessThanOrEqual(20);
    const want = referencePyramid(volume.info, values)[1];
    expect(Array.from((await volume.read(1, volume.bounds(1))) as Uint8Array)).toEqual(want);
  });

  it('runs a stage published in ranges the workers expand: a range held by a killed worker comes back, and only its tasks not done run again', async (ctx) => {
    if (!emulator) return ctx.skip();
    const { dir, volume, values, plan, n } = await oneVoxelChunks('ranges', 40, 20, 53);
    expect(n).toBe(200);
    const progressUrl = `file://${join(dir, 'progress')}`;
    const names = queueNames('ranges', [1, 2]);
    const { ensureQueue } = await import('./client.js');
    await ensureQueue(names);
    // 200 tasks in ranges of 16: 13 messages. The first worker is killed once it has finished a few
    // tasks (each recorded as it finishes); the second starts after that, so its first read of the
    // records knows them.
    // (Prefetch on: each range reads its next task's inputs while one runs.)
    const args = ['--subscription', names.subscription, '--threads', '2', '--prefetch', '2', '--ack-deadline', '10'];
    const doomed = startWorker(args);
    const published = publishPlan(plan, { ...names, progressUrl, pollMs: 300, timeoutMs: 600_000, tasksPerMessage: 16 }); // (a hang guard: a slow machine only waits longer)
    while (doomed.lines.filter((l) => l.includes('"message":"task done"')).length < 5) await new Promise((r) => setTimeout(r, 20));
    doomed.child.kill('SIGKILL');
    await doomed.exit;
    const survivor = startWorker(args);
    await published;
    const status = await new ProgressStore(progressUrl).stageStatus(0);
    expect(status).toMatchObject({ tasks: n, published: n, done: n, dead: 0, backlog: 0 });
    survivor.child.kill('SIGTERM');
    expect(await survivor.exit).toBe(0);
    const indices = (w: Worker, message: string) => w.lines.filter((l) => l.includes(`"message":"${message}"`)).map((l) => JSON.parse(l).index as number);
    // What the killed worker finished is what its record holds (it logs a task done only after the
    // record has it, and the kill may come between the two, so its log may miss its last one).
    const store = openStore(progressUrl);
    const recordKey = (await listAll(store, 'records/0/')).find((k) => k.includes(`-${doomed.child.pid}-`))!;
    const doomedRecord = decodeRecord((await store.get(recordKey))!, recordKey, n).done;
    const doneFirst = Array.from({ length: n }, (_, i) => i).filter((i) => doomedRecord.has(i));
    expect(indices(doomed, 'task done').every((i) => doomedRecord.has(i))).toBe(true);
    expect(doneFirst.length).toBeGreaterThanOrEqual(5);
    // Every task ran to the end once across both (a task the killed worker had started but not
    // finished ran again), and what the killed worker finished in the range it held was skipped.
    expect(new Set([...doneFirst, ...indices(survivor, 'task done')]).size).toBe(n);
    expect(indices(survivor, 'task done').filter((i) => doomedRecord.has(i))).toEqual([]);
    expect(survivor.lines.filter((l) => l.includes('"message":"task already done: acked without running"')).length).toBeGreaterThanOrEqual(1);
    const want = referencePyramid(volume.info, values)[1];
    expect(Array.from((await volume.read(1, volume.bounds(1))) as Uint8Array)).toEqual(want);
  });

  it('dead-letters a task that cannot succeed at once, and a message that is no task, and exits when idle', async (ctx) => {
    if (!emulator) return ctx.skip();
    const names = queueNames('poison', [1, 2]);
    const poison = { kind: 'downsample', chunk_path: '16_16_16/0-32_0-32_0-32', layer_path: 'gs://e2e/no-such-layer' } as const;
    const worker = startWorker(['--subscription', names.subscription, '--threads', '1', '--prefetch', '0', '--exit-when-idle', '6']);
    const published = publishPlan(listPlan('x', [{ name: 'poison', tasks: [poison] }]), {
      ...names,
      progressUrl: 'gs://e2e/poison-progress',
      pollMs: 300,
      timeoutMs: 120_000,
    });
    await expect(published).rejects.toThrow(/stage 1: 1 task\(s\) dead-lettered/);
    // Not JSON at all, published by hand into the same stage.
    await pubsub()
      .topic(names.topic)
      .publishMessage({ data: Buffer.from('{"kind": "downsample",'), attributes: { progress: 'gs://e2e/poison-progress', stage: '0' } });
    expect(await worker.exit).toBe(1); // idle exit; it finished nothing
    const status = await new ProgressStore('gs://e2e/poison-progress').status();
    expect(status[0]).toMatchObject({ tasks: 1, done: 0, dead: 1, backlog: 0 });
    // The poison task is recorded dead (with its error) in the worker's record of the stage; the
    // message that is no task belongs to no stage, so only the dead-letter topic keeps it.
    const [record] = await new ProgressStore('gs://e2e/poison-progress').records(0);
    expect(record.dead.map(([i, e]) => [i, e.includes('no-such-layer has no info file')])).toEqual([[0, true]]);
    // Each failed once, and was not retried: no retry can fix invalid input.
    const failures = worker.lines.filter((l) => l.includes('task cannot succeed')).map((l) => JSON.parse(l));
    expect(failures.map((f) => f.attempt)).toEqual([1, 1]);
    expect(failures[0].error).toMatch(/no-such-layer has no info file/);
    expect(failures[1].error).toMatch(/^task: not valid JSON/);
    expect(worker.lines.some((l) => l.includes('will be retried'))).toBe(false);
    // The worker forwarded both to the dead-letter topic, where its subscription keeps them.
    const kept = pubsub().subscription(`${names.deadLetterTopic}-kept`);
    const letters = await new Promise<string[]>((resolve) => {
      const got: string[] = [];
      kept.on('message', (m) => {
        m.ack();
        got.push(m.data.toString());
        if (got.length === 2) resolve(got);
      });
    });
    await kept.close();
    expect(letters.map((l) => (l.startsWith('{"kind": "downsample",') ? 'not json' : JSON.parse(l))).sort()).toEqual(['not json', poison].sort());
    expect(worker.lines.some((l) => l.includes('idle for 6 s'))).toBe(true);
  });

  it('dead-letters a message whose attributes name no task of the plan, without running its task', async (ctx) => {
    if (!emulator) return ctx.skip();
    const layer = 'gs://e2e/attributes';
    const volume = await filledLayer(layer, 7);
    const task = { kind: 'downsample', chunk_path: '16_16_16/0-16_0-16_0-16', layer_path: layer } as const;
    const progress = 'gs://e2e/attributes-progress';
    await new ProgressStore(progress).savePlan(listPlan(layer, [{ name: 'one', tasks: [task] }]));
    const names = queueNames('attrs');
    const { ensureQueue } = await import('./client.js');
    await ensureQueue(names);
    const worker = startWorker(['--subscription', names.subscription, '--threads', '1', '--prefetch', '0', '--exit-when-idle', '6']);
    // A valid task, but attributes that claim 2^53 - 1 tasks (a bitmap that size would take 1 PiB),
    // then a stage the plan does not have.
    for (const attributes of [
      { progress, stage: '0', index: '0', tasks: String(2 ** 53 - 1) },
      { progress, stage: '3', index: '0', tasks: '1' },
    ]) {
      await pubsub()
        .topic(names.topic)
        .publishMessage({ data: Buffer.from(JSON.stringify(task)), attributes });
    }
    expect(await worker.exit).toBe(1);
    const failures = worker.lines.filter((l) => l.includes('task cannot succeed')).map((l) => JSON.parse(l));
    expect(failures.map((f) => f.attempt)).toEqual([1, 1]);
    expect(failures.map((f) => f.error)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^message attributes stage 0, index 0, tasks 9007199254740991 do not name a task/),
        expect.stringMatching(/^message attributes stage 3, tasks 1 are not a stage of the plan at gs:\/\/e2e\/attributes-progress \(1 stages\)/),
      ]),
    );
    expect(worker.lines.some((l) => l.includes('task started'))).toBe(false);
    expect(await volume.store.exists('16_16_16/0-16_0-16_0-16')).toBe(false); // never ran
  });

  it('waits, not ready, for a subscription made after it starts, then works; with --exit-when-idle it gives up naming it', async (ctx) => {
    if (!emulator) return ctx.skip();
    const layer = 'gs://e2e/early';
    const volume = await filledLayer(layer, 9);
    const names = queueNames('early');
    const worker = startWorker(['--subscription', names.subscription, '--threads', '1', '--prefetch', '0', '--health-port', '0']);
    const listening = new Promise<number>((resolve) => {
      const look = setInterval(() => {
        const line = worker.lines.find((l) => l.includes('"message":"health server listening"'));
        if (line) {
          clearInterval(look);
          resolve(JSON.parse(line).port);
        }
      }, 100);
    });
    await worker.waitFor('waiting for the subscription');
    const port = await listening;
    const ready = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      return [res.status, ((await res.json()) as { status: string }).status];
    };
    expect(await ready()).toEqual([503, 'waiting for the subscription']);
    const task = { kind: 'downsample', chunk_path: '16_16_16/0-16_0-16_0-16', layer_path: layer } as const;
    await publishPlan(listPlan(layer, [{ name: 'early', tasks: [task] }]), {
      ...names,
      progressUrl: 'gs://e2e/early-progress',
      pollMs: 300,
      timeoutMs: 120_000,
    });
    expect(await ready()).toEqual([200, 'ok']);
    worker.child.kill('SIGTERM');
    expect(await worker.exit).toBe(0);
    expect(worker.lines.filter((l) => l.includes('"message":"task done"')).length).toBe(1);
    expect(new Set((await volume.read(1, volume.bounds(1))) as Uint8Array)).toEqual(new Set([9]));
    // A subscription nobody makes: the worker looks for it until its idle limit, then says so.
    const lost = startWorker(['--subscription', `never-${Date.now()}`, '--exit-when-idle', '2']);
    expect(await lost.exit).toBe(1);
    expect(lost.lines.join('\n')).toMatch(/subscription never-\d+ does not exist \(waited 2 s\); publish a plan to make it/);
  });

  it('keeps extending the lease of a task that runs longer than the ack deadline: it runs once', async (ctx) => {
    if (!emulator) return ctx.skip();
    const layer = 'gs://e2e/slow';
    const volume = await filledLayer(layer, 7);
    const task = { kind: 'downsample', chunk_path: '16_16_16/0-16_0-16_0-16', layer_path: layer } as const;
    const names = queueNames('slow');
    const { ensureQueue } = await import('./client.js');
    await ensureQueue(names);
    // Every storage request now takes 4 s: reading the info, the chunks, writing the output and the
    // done marker take the task past the 10 s ack deadline.
    gcs.latencyMs = 4000;
    // Two workers: had the lease lapsed, the idle one would get the message and start it again.
    const args = ['--subscription', names.subscription, '--threads', '1', '--prefetch', '0', '--ack-deadline', '10'];
    const workers = [startWorker(args), startWorker(args)];
    try {
      await publishPlan(listPlan(layer, [{ name: 'slow', tasks: [task] }]), {
        ...names,
        progressUrl: 'gs://e2e/slow-progress',
        pollMs: 500,
        timeoutMs: 120_000,
      });
    } finally {
      gcs.latencyMs = 0;
    }
    await new Promise((r) => setTimeout(r, 3000));
    for (const w of workers) w.child.kill('SIGTERM');
    for (const w of workers) expect(await w.exit).toBe(0);
    const lines = workers.flatMap((w) => w.lines);
    const starts = lines.filter((l) => l.includes('"message":"task started"'));
    const done = lines.filter((l) => l.includes('"message":"task done"')).map((l) => JSON.parse(l));
    expect(starts.length).toBe(1);
    expect(done.length).toBe(1);
    expect(done[0].seconds).toBeGreaterThan(10); // longer than the ack deadline, yet not redelivered
    expect(new Set((await volume.read(1, volume.bounds(1))) as Uint8Array)).toEqual(new Set([7]));
  });
});
