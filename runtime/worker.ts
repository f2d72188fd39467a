// piscina worker: runs one task per call, in its own thread, with any input bytes prefetched for it.
// Errors come back as records (kind and message): a thrown error would lose its class on the way.
import { workerData } from 'piscina';
import { ErrorRecord, toRecord } from '../common/errors.js';
import { logWarnings } from '../common/log.js';
import { closeKernels, selectedBackend } from '../kernels/backend.js';
import { TaskResult } from '../tasks/kind.js';
import { runChecked, Task } from '../tasks/registry.js';
import { plainContext, TaskContext } from '../tasks/context.js';
import { Info } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { openStore } from '../storage/open.js';
import { clearPrefetched, setPrefetched } from '../storage/prefetched.js';
import { applyConfig, Config } from './config.js';
import { PrefetchedObject } from './prefetch.js';

const { config } = workerData as { config: Config };
applyConfig(config);
logWarnings();

export type WorkerReply = { result: TaskResult } | { error: ErrorRecord };

/**
 * The pool closing: this thread releases its GPU device (Dawn crashes when threads holding devices
 * are ended together), then holds until every thread has, so that each thread gets one release.
 */
async function release(arrived: Int32Array, threads: number): Promise<void> {
  await closeKernels();
  Atomics.add(arrived, 0, 1);
  const deadline = Date.now() + 10_000;
  for (let n = Atomics.load(arrived, 0); n < threads && Date.now() < deadline; n = Atomics.load(arrived, 0)) Atomics.wait(arrived, 0, n, 100);
}

/**
 * This thread's layer infos, per scope (a stage: infos are written when a plan is made, never while
 * its stage runs), the last two scopes kept: a worker may still finish a task of the stage before.
 */
const infos = new Map<string, Map<string, Promise<Info>>>();

function openIn(scope: string | undefined): (url: string) => Promise<Volume> {
  if (scope === undefined) return (url) => Volume.open(url);
  let byUrl = infos.get(scope);
  if (!byUrl) {
    byUrl = new Map();
    infos.set(scope, byUrl);
    if (infos.size > 2) infos.delete(infos.keys().next().value!);
  }
  const cache = byUrl;
  return async (url) => {
    let info = cache.get(url);
    if (!info) {
      info = Volume.open(url).then((v) => v.info);
      info.catch(() => cache.delete(url));
      cache.set(url, info);
    }
    // A fresh Volume per task: its shard index caches must not outlive the task.
    return new Volume(url, openStore(url), await info);
  };
}

export default async function work(
  call: { task: Task; prefetched: PrefetchedObject[]; scope?: string } | { release: SharedArrayBuffer; threads: number },
): Promise<WorkerReply | undefined> {
  if ('release' in call) return void (await release(new Int32Array(call.release), call.threads));
  const { task, prefetched, scope } = call;
  setPrefetched(prefetched);
  const ctx: TaskContext = { ...plainContext(AbortSignal.timeout(config.taskTimeoutMs)), open: openIn(scope) };
  try {
    return { result: { ...(await runChecked(task, ctx)), backend: selectedBackend() } };
  } catch (e) {
    return { error: toRecord(e) };
  } finally {
    clearPrefetched();
  }
}
