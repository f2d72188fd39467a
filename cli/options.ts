// Command-line options: typed, range-checked parsers, and the options every command that runs tasks
// shares, each with the environment variable that supplies its default (declared here and nowhere
// else; Kubernetes passes configuration as environment variables).
import { Command, InvalidArgumentError, Option } from 'commander';
import { availableParallelism } from 'node:os';
import { Vec3 } from '../common/box.js';
import { BACKEND_CHOICES } from '../kernels/backend.js';
import { ShardingChoice } from '../precomputed/sharding.js';
import { configureStorage, DEFAULT_STORAGE } from '../storage/options.js';
import { configureLog } from '../common/log.js';
import { Config, DEFAULT_CONFIG } from '../runtime/config.js';
import { isSegmentId } from '../tasks/fields.js';

/** An integer flag within [min, max]. */
export function integer(min: number, max: number) {
  return (text: string): number => {
    if (!/^-?\d+$/.test(text.trim())) throw new InvalidArgumentError(`must be an integer ${min}..${max}`);
    const n = Number(text);
    if (n < min || n > max) throw new InvalidArgumentError(`must be an integer ${min}..${max}`);
    return n;
  };
}

/** A number flag within [min, max]. */
export function number(min: number, max: number) {
  return (text: string): number => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`must be a number in [${min}, ${max}]`);
    return n;
  };
}

/** `--allow-prefix A --allow-prefix B` or `A,B` (the environment variable): the prefixes, accumulated. */
function prefixList(text: string, previous: string[] | undefined): string[] {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (parts.length === 0) throw new InvalidArgumentError('must name a URL prefix');
  return [...(previous ?? []), ...parts];
}

/** `ID,ID,...`: non-zero uint64 segment ids. */
export function segmentIds(text: string): string[] {
  const ids = text.split(',').map((s) => s.trim());
  const bad = ids.find((id) => !isSegmentId(id));
  if (bad !== undefined) throw new InvalidArgumentError(`must be non-zero uint64 segment ids, comma-separated; "${bad}" is not`);
  return ids;
}

/** `X,Y,Z`, three integers within [min, max]. */
export function vector3(min: number, max: number) {
  return (text: string): Vec3 => {
    const parts = text.split(',');
    if (parts.length !== 3 || !parts.every((p) => /^-?\d+$/.test(p.trim()))) throw new InvalidArgumentError('must be three integers X,Y,Z');
    const v = parts.map(Number) as Vec3;
    if (!v.every((x) => x >= min && x <= max)) throw new InvalidArgumentError(`must be three integers X,Y,Z within ${min}..${max}`);
    return v;
  };
}

/** `X,Y,Z`, three positive numbers (resolutions may be fractional). */
export function positiveVector3(text: string): Vec3 {
  const v = text.split(',').map(Number);
  if (v.length !== 3 || !v.every((x) => Number.isFinite(x) && x > 0)) throw new InvalidArgumentError('must be three positive numbers X,Y,Z');
  return v as Vec3;
}

/** More threads than 4 per core only cost memory. */
export const MAX_THREADS = 4 * availableParallelism();

/** The options of every command that runs tasks; defaults from the environment. */
export function runtimeOptions(command: Command): Command {
  return storageFlags(
    command
      .addOption(new Option('--threads <n>', 'pool threads').env('DIGEST_THREADS').argParser(integer(1, MAX_THREADS)).default(availableParallelism()))
      .addOption(new Option('--backend <where>', 'where kernels run').env('DIGEST_BACKEND').choices(BACKEND_CHOICES).default('auto'))
      .addOption(
        new Option('--task-timeout <seconds>', 'stop a task running longer than this')
          .env('DIGEST_TASK_TIMEOUT')
          .argParser(integer(1, 7 * 86_400))
          .default(DEFAULT_CONFIG.taskTimeoutMs / 1000),
      ),
  );
}

/** The options of every command that touches storage (those that run tasks, view, upload). */
export function storageFlags(command: Command): Command {
  return command
    .addOption(
      new Option('--storage-timeout <seconds>', 'abandon and retry a storage request silent this long')
        .env('DIGEST_STORAGE_TIMEOUT')
        .argParser(number(0.1, 3600))
        .default(DEFAULT_STORAGE.timeoutMs / 1000),
    )
    .addOption(
      new Option('--storage-retries <n>', 'retries of a transient storage failure')
        .env('DIGEST_STORAGE_RETRIES')
        .argParser(integer(0, 100))
        .default(DEFAULT_STORAGE.retries),
    )
    .addOption(
      new Option('--storage-concurrency <n>', 'gs:// requests open at once per process')
        .env('DIGEST_GCS_CONCURRENCY')
        .argParser(integer(1, 1024))
        .default(DEFAULT_STORAGE.concurrency),
    )
    .addOption(new Option('--project <id>', 'Google Cloud project').env('DIGEST_PROJECT'))
    .addOption(
      new Option('--allow-prefix <url...>', 'open storage only under these URL prefixes (gs://lab-bucket/, /data/); tasks naming anything else fail')
        .env('DIGEST_ALLOW_PREFIX')
        .argParser(prefixList),
    )
    .addOption(new Option('--gcs-endpoint <url>', 'GCS JSON API endpoint (emulators)').env('STORAGE_EMULATOR_HOST').hideHelp())
    .addOption(new Option('--s3-endpoint <url>', 's3://: an S3-compatible server (MinIO, Ceph, R2), path-style; default AWS').env('DIGEST_S3_ENDPOINT'))
    .addOption(
      new Option(
        '--part-mib <mib>',
        'objects larger than this are uploaded in parts of this many MiB, each retried alone (s3:// multipart; gs:// composed pieces of a shard)',
      )
        .env('DIGEST_PART_MIB')
        .argParser(integer(5, 5120))
        .default(DEFAULT_STORAGE.partBytes >> 20),
    )
    .addOption(new Option('--spill-dir <dir>', "local scratch directory for shards larger than memory (room for a task's shards)").env('DIGEST_SPILL_DIR'))
    .addOption(new Option('--no-fsync', 'file://: do not fsync objects before renaming them into place').env('DIGEST_NO_FSYNC').hideHelp());
}

export interface RuntimeFlags extends StorageFlags {
  threads: number;
  backend: Config['backend'];
  taskTimeout: number;
}

export interface StorageFlags {
  storageTimeout: number;
  storageRetries: number;
  storageConcurrency: number;
  project?: string;
  allowPrefix?: string[];
  gcsEndpoint?: string;
  s3Endpoint?: string;
  partMib: number;
  spillDir?: string;
  fsync: boolean;
}

/** The Config of parsed runtime flags. */
export function configFrom(flags: RuntimeFlags, log: Config['log'] = 'text'): Config {
  return {
    threads: flags.threads,
    backend: flags.backend,
    taskTimeoutMs: flags.taskTimeout * 1000,
    log,
    storage: storageFrom(flags),
  };
}

/** For commands that run no tasks: this thread's storage options and log format from their flags. */
export function configureStorageFlags(flags: StorageFlags, log: Config['log'] = 'text'): void {
  configureLog(log);
  configureStorage(storageFrom(flags));
}

/** The storage options of parsed storage flags. */
export function storageFrom(flags: StorageFlags): Config['storage'] {
  return {
    ...DEFAULT_STORAGE,
    timeoutMs: flags.storageTimeout * 1000,
    retries: flags.storageRetries,
    concurrency: flags.storageConcurrency,
    partBytes: (flags.partMib ?? DEFAULT_STORAGE.partBytes >> 20) * (1 << 20),
    fsync: flags.fsync,
    ...(flags.spillDir ? { spillDir: flags.spillDir } : {}),
    ...(flags.project ? { project: flags.project } : {}),
    ...(flags.allowPrefix ? { allowPrefixes: flags.allowPrefix } : {}),
    ...(flags.gcsEndpoint ? { gcsEndpoint: flags.gcsEndpoint } : {}),
    ...(flags.s3Endpoint ? { s3Endpoint: flags.s3Endpoint } : {}),
  };
}

/** Flags that shape a new sharded layer (create-layer, plan transfer). */
export function shardingOptions(command: Command): Command {
  return command
    .option('--sharded', 'store every scale in shard files (neuroglancer_uint64_sharded_v1)')
    .addOption(
      new Option('--shard-mib <mib>', 'uncompressed MiB of chunks per shard: what a task holds while it writes one')
        .argParser(integer(1, 1 << 20))
        .default(256),
    )
    .addOption(
      new Option('--shard-hash <hash>', 'identity keeps each shard one block of chunks (written from one region)')
        .choices(['identity', 'murmurhash3_x86_128'])
        .default('identity'),
    )
    .addOption(new Option('--preshift-bits <n>', 'override the computed preshift_bits').argParser(integer(0, 64)))
    .addOption(new Option('--minishard-bits <n>', 'override the computed minishard_bits').argParser(integer(0, 32)))
    .addOption(new Option('--shard-bits <n>', 'override the computed shard_bits').argParser(integer(0, 64)))
    .addOption(new Option('--minishard-index-encoding <e>', 'minishard index encoding').choices(['gzip', 'raw']).default('gzip'))
    .addOption(new Option('--shard-data-encoding <e>', 'chunk data encoding inside shards (default: gzip, raw for jpeg and png)').choices(['gzip', 'raw']));
}

export interface ShardingFlags {
  sharded?: boolean;
  shardMib: number;
  shardHash: 'identity' | 'murmurhash3_x86_128';
  preshiftBits?: number;
  minishardBits?: number;
  shardBits?: number;
  minishardIndexEncoding: 'gzip' | 'raw';
  shardDataEncoding?: 'gzip' | 'raw';
}

export function shardingChoiceFrom(o: ShardingFlags): ShardingChoice | undefined {
  if (!o.sharded) return undefined;
  return {
    targetBytes: o.shardMib * 2 ** 20,
    hash: o.shardHash,
    preshiftBits: o.preshiftBits,
    minishardBits: o.minishardBits,
    shardBits: o.shardBits,
    minishardIndexEncoding: o.minishardIndexEncoding,
    ...(o.shardDataEncoding ? { dataEncoding: o.shardDataEncoding } : {}),
  };
}
