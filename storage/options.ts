// How stores talk to storage: set once per thread at the edge (runtime/config.ts), read by the drivers.
export interface StorageOptions {
  /** Requests open at once per process (gs://). */
  concurrency: number;
  /** Retries of a transient failure (timeout, 429, 5xx, dropped connection) before giving up. */
  retries: number;
  /** A request that sends or receives nothing for this long is abandoned and retried. */
  timeoutMs: number;
  /** First retry delay; each further one doubles (with jitter), up to 32 s. */
  retryDelayMs: number;
  /** A GCS JSON API endpoint other than Google's (emulators, test servers). */
  gcsEndpoint?: string;
  /** An S3 endpoint other than AWS's (MinIO, Ceph, R2, test servers), addressed path-style. */
  s3Endpoint?: string;
  /**
   * Objects larger than this are uploaded in parts of this size, a failed part sent again alone:
   * s3:// multipart uploads (at least 5 MiB, S3's smallest part); gs:// pieces of a body too large to
   * hold, composed into the object.
   */
  partBytes: number;
  /**
   * A shard writer holding more than this many bytes of chunks (as stored) spills the rest to a local
   * scratch file (storage/spill.ts) and uploads its shards from there in parts.
   */
  spillAboveBytes: number;
  /** Where spills go (a local disk with room for a task's shards); default: the system's temp directory. */
  spillDir?: string;
  project?: string;
  /** file://: fsync each object before renaming it into place (a crash then leaves the old or the new bytes). */
  fsync: boolean;
  /**
   * Where stores may be opened at all (URL prefixes, `gs://lab-bucket/`, `/data/`); absent: anywhere.
   * A worker taking tasks from a shared queue is confined with it: a task (or a message's progress
   * attribute) naming any other place fails as InvalidInput before anything is read or written.
   */
  allowPrefixes?: string[];
}

/** Parts of one upload sent at once (s3:// multipart parts, gs:// pieces). */
export const PARTS_AT_ONCE = 4;

export const DEFAULT_STORAGE: StorageOptions = {
  concurrency: 32,
  retries: 6,
  timeoutMs: 60_000,
  retryDelayMs: 250,
  partBytes: 64 << 20,
  spillAboveBytes: 256 << 20,
  fsync: true,
};

let current: StorageOptions = DEFAULT_STORAGE;
const listeners: (() => void)[] = [];

export function configureStorage(options: Partial<StorageOptions>): void {
  current = { ...DEFAULT_STORAGE, ...options };
  for (const l of listeners) l();
}

export function storageOptions(): StorageOptions {
  return current;
}

/** Calls `reset` whenever the options change (drivers drop clients built from the old ones). */
export function onStorageConfigured(reset: () => void): void {
  listeners.push(reset);
}
