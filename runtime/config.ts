// The one configuration object, built at the edge (the CLI, from flags and the environment variables
// that cli/options.ts declares) and handed down: to this thread's stores, kernels and log, and to
// every pool thread through piscina's workerData. No other module reads process.env.
import { configureLog, LogFormat } from '../common/log.js';
import { BackendChoice, configureKernels } from '../kernels/backend.js';
import { configureStorage, DEFAULT_STORAGE, StorageOptions } from '../storage/options.js';

export interface Config {
  /** Pool threads per process. */
  threads: number;
  /** Where the kernels run. */
  backend: BackendChoice;
  storage: StorageOptions;
  /** A task running longer than this is stopped (its thread ended) and counts as a failed attempt. */
  taskTimeoutMs: number;
  log: LogFormat;
}

export const DEFAULT_CONFIG: Config = {
  threads: 2,
  backend: 'auto',
  storage: DEFAULT_STORAGE,
  taskTimeoutMs: 60 * 60_000,
  log: 'text',
};

/** Applies `config` to this thread (the CLI's main thread, and each pool thread as it starts). */
export function applyConfig(config: Config): void {
  configureStorage(config.storage);
  configureKernels(config.backend);
  configureLog(config.log);
}
