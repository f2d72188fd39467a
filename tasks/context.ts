// What a task runs with: handed to TaskKind.run by whoever runs it (a pool thread, `digest task`, a
// test), so that no task reaches for module state of its own.
import { Severity } from '../common/log.js';
import { kernels as threadKernels, Kernels } from '../kernels/backend.js';
import { Volume } from '../precomputed/volume.js';
import { logEvent } from '../common/log.js';

export interface TaskContext {
  /**
   * A layer, opened (its info read) through this context: a pool thread reads each layer's info once
   * per stage, not once per task (infos are written when a plan is made, never while its stage runs).
   */
  open(url: string): Promise<Volume>;
  /** This thread's kernels (cpu, WebAssembly or gpu, as its configuration chose). */
  kernels(): Promise<Kernels>;
  /** Aborted when the task passes its time limit. */
  signal: AbortSignal;
  log(severity: Severity, message: string, fields?: Record<string, unknown>): void;
}

/** A context of its own for one task run outside a pool (`digest task`, tests): nothing is cached. */
export function plainContext(signal: AbortSignal = new AbortController().signal): TaskContext {
  return { open: (url) => Volume.open(url), kernels: threadKernels, signal, log: logEvent };
}
