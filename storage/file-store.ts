// file:// store. Writes are atomic (temp file, fsync, rename) so readers never see half a chunk and a
// crash leaves the old or the new bytes; a gzipped object is kept as `key.gz`, as Neuroglancer-serving
// tools expect. Temp files left by a killed writer are swept the next time a process writes into
// their directory.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { CorruptData, InvalidInput, TransientError } from '../common/errors.js';
import { gunzip, gzipBound } from './gzip.js';
import { Limiter } from './limit.js';
import { storageOptions } from './options.js';
import { checkKey, GetOptions, PutOptions, storedBody, Store } from './store.js';

const TEMP = /\.tmp-(\d+)-[0-9a-f]{8}$/;

/** Open files per process, at most: a task writing thousands of chunks must not run out of descriptors. */
const files = new Limiter(64);

export class FileStore implements Store {
  readonly root: string;

  constructor(readonly url: string) {
    // file:///abs/path, file://relative/path and plain paths all name a directory.
    this.root = resolve(url.startsWith('file://') ? url.slice('file://'.length) : url);
  }

  private path(key: string): string {
    return join(this.root, ...checkKey(key).split('/'));
  }

  get(key: string, options: GetOptions = {}): Promise<Uint8Array | null> {
    return files.run(() => this.read(key, options));
  }

  private async read(key: string, options: GetOptions): Promise<Uint8Array | null> {
    const path = this.path(key);
    const plain = await readOrNull(path, options.maxBytes);
    if (plain) return plain;
    // gzip adds at most a few bytes per 16 KiB block (stored blocks) and a header to what it holds.
    const zipped = await readOrNull(path + '.gz', options.maxBytes === undefined ? undefined : gzipBound(options.maxBytes));
    return zipped ? gunzip(zipped, path + '.gz', options.maxBytes) : null;
  }

  getStored(key: string): Promise<{ body: Uint8Array; gzip: boolean } | null> {
    return files.run(async () => {
      const path = this.path(key);
      const plain = await readOrNull(path);
      if (plain) return { body: plain, gzip: false };
      const zipped = await readOrNull(path + '.gz');
      return zipped ? { body: zipped, gzip: true } : null;
    });
  }

  getRange(key: string, offset: number, length: number): Promise<Uint8Array | null> {
    return files.run(() => this.readRange(key, offset, length));
  }

  private async readRange(key: string, offset: number, length: number): Promise<Uint8Array | null> {
    const path = this.path(key);
    const handle = await open(path, 'r').catch((e) => {
      if (isMissing(e)) return null;
      throw fileError(e, path);
    });
    if (!handle) return null;
    try {
      const out = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await handle.read(out, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === length ? out : out.subarray(0, got);
    } catch (e) {
      throw fileError(e, path);
    } finally {
      await handle.close();
    }
  }

  put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<void> {
    return files.run(() => this.write(key, data, options));
  }

  private async write(key: string, data: Uint8Array, options: PutOptions): Promise<void> {
    const path = this.path(key);
    const { body, gzip } = storedBody(data, options);
    const [target, other] = gzip ? [path + '.gz', path] : [path, path + '.gz'];
    const dir = dirname(path);
    try {
      // Directories made (or found) once per process: a layer's chunks share a few directories, and
      // a write needs no more syscalls than its own. One removed meanwhile is made again.
      if (!made.has(dir)) { await mkdir(dir, { recursive: true }); made.add(dir); }
      await sweepOnce(dir);
      await writeAtomically(target, body).catch(async (e) => {
        if (!isMissing(e)) throw e;
        await mkdir(dir, { recursive: true });
        await writeAtomically(target, body);
      });
      // A rerun may switch compression: never leave two versions of one key.
      await unlink(other).catch((e) => { if (!isMissing(e)) throw e; });
    } catch (e) {
      throw fileError(e, target);
    }
  }

  async exists(key: string): Promise<boolean> {
    const path = this.path(key);
    return (await isFile(path)) || (await isFile(path + '.gz'));
  }

  async *listPages(prefix = ''): AsyncIterable<string[]> {
    // Walk only the deepest directory that the prefix names; one page per directory.
    const dirPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const pending = [dirPart ? join(this.root, ...dirPart.split('/')) : this.root];
    while (pending.length > 0) {
      const dir = pending.pop()!;
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if (isMissing(e)) continue;
        throw fileError(e, dir);
      }
      const page = new Set<string>();
      for (const entry of entries) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) pending.push(full);
        else if (!TEMP.test(entry.name)) {
          const key = relative(this.root, full).split(sep).join('/').replace(/\.gz$/, '');
          if (key.startsWith(prefix)) page.add(key);
        }
      }
      if (page.size > 0) yield [...page].sort();
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.path(key);
    await rm(path, { force: true });
    await rm(path + '.gz', { force: true });
  }
}

async function writeAtomically(target: string, bytes: Uint8Array): Promise<void> {
  const temp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(bytes);
      if (storageOptions().fsync) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
}

const swept = new Set<string>();
const made = new Set<string>();

/**
 * Removes temp files in `dir` that no live writer owns: their process is gone (killed mid-write) and
 * they are a few seconds old, or they are an hour old (a writer on another machine). Once per
 * directory per process.
 */
async function sweepOnce(dir: string): Promise<void> {
  if (swept.has(dir)) return;
  swept.add(dir);
  const now = Date.now();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = TEMP.exec(name);
    if (!m) continue;
    const path = join(dir, name);
    const age = now - ((await stat(path).catch(() => null))?.mtimeMs ?? now);
    if (age > 3_600_000 || (age > 5_000 && !processAlive(Number(m[1])))) await rm(path, { force: true });
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** The system error with the file named, as a digest error of the right kind. */
export function fileError(e: unknown, path: string): Error {
  const { code, message } = e as NodeJS.ErrnoException;
  if (e instanceof Error && 'kind' in e) return e;
  if (code === 'ENOSPC') return new TransientError(`${path}: no space left on the device`, { cause: e });
  if (code === 'EISDIR') return new InvalidInput(`${path} is a directory, not a stored object`, { cause: e });
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return new InvalidInput(`${path}: permission denied (${code})`, { cause: e });
  return new TransientError(`${path}: ${message}`, { cause: e });
}

async function readOrNull(path: string, maxBytes?: number): Promise<Uint8Array | null> {
  const handle = await open(path, 'r').catch((e) => {
    if (isMissing(e)) return null;
    throw fileError(e, path);
  });
  if (!handle) return null;
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw new InvalidInput(`${path} is a directory, not a stored object`);
    const { size } = info;
    if (maxBytes !== undefined && size > maxBytes) throw new CorruptData(`${path}: ${size} bytes, more than the ${maxBytes} expected`);
    const buf = await handle.readFile();
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    throw fileError(e, path);
  } finally {
    await handle.close();
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
