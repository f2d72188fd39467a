// file:// store. Writes are atomic (temp file, fsync, rename) so readers never see half a chunk and a
// crash leaves the old or the new bytes; a gzipped object is kept as `key.gz`, as Neuroglancer-serving
// tools expect. Temp files left by a killed writer are swept the next time a process writes into
// their directory.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { FileHandle, mkdir, open, readdir, realpath, rename, rm, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { CorruptData, InvalidInput, TransientError } from '../common/errors.js';
import { gunzip, gzipBound } from './gzip.js';
import { Limiter } from './limit.js';
import { storageOptions } from './options.js';
import { checkKey, DEFAULT_MAX_BYTES, GetOptions, maxBytesOf, PieceBody, PutOptions, storedBody, Store } from './store.js';

/** Temp files are `<target>.tmp-<host>-<pid>-<random>`: whose they are, so a sweep knows when they are dead. */
const TEMP = /\.tmp-(?:([A-Za-z0-9_]+)-)?(\d+)-[0-9a-f]{8}$/;
/** Links to directories followed inside one another, at most, when listing. */
const MAX_LINK_DEPTH = 8;
const HOST = hostname().replace(/[^A-Za-z0-9]/g, '_') || 'host';

/** Open files per process, at most: a task writing thousands of chunks must not run out of descriptors. */
const files = new Limiter(64);

export class FileStore implements Store {
  readonly root: string;
  private realRoot?: Promise<string>;

  constructor(readonly url: string) {
    // file:///abs/path, file://relative/path and plain paths all name a directory.
    this.root = resolve(url.startsWith('file://') ? url.slice('file://'.length) : url);
  }

  private path(key: string): string {
    return join(this.root, ...checkKey(key).split('/'));
  }

  get(key: string, options?: GetOptions): Promise<Uint8Array | null> {
    return files.run(() => this.read(key, options));
  }

  private async read(key: string, options: GetOptions | undefined): Promise<Uint8Array | null> {
    const path = this.path(key);
    const maxBytes = maxBytesOf(options);
    const plain = await readOrNull(path, maxBytes);
    if (plain) return plain;
    const zipped = await readOrNull(path + '.gz', gzipBound(maxBytes));
    return zipped ? gunzip(zipped, path + '.gz', maxBytes) : null;
  }

  /**
   * The object as stored, for copying a layer: only a regular file inside the store's directory
   * (a link that leads out of it is refused, as serve refuses it).
   */
  getStored(key: string): Promise<{ body: Uint8Array; gzip: boolean } | null> {
    return files.run(async () => {
      const path = this.path(key);
      for (const [file, gzip] of [
        [path, false],
        [path + '.gz', true],
      ] as const) {
        await this.assertInside(file);
        const body = await readOrNull(file, DEFAULT_MAX_BYTES);
        if (body) return { body, gzip };
      }
      return null;
    });
  }

  /** Refuses a path that is (or passes through) a symbolic link leading out of the store's directory. */
  private async assertInside(path: string): Promise<void> {
    const real = await realpath(path).catch((e) => {
      if (isMissing(e)) return null;
      throw fileError(e, path);
    });
    if (real === null) return;
    // The root's own real path, once per store (an upload checks every object).
    const root = await (this.realRoot ??= realpath(this.root).catch(() => this.root));
    if (real !== root && !real.startsWith(root + sep)) throw new InvalidInput(`${path} is a link to ${real}, outside ${root}: refused`);
  }

  getRange(key: string, offset: number, length: number): Promise<Uint8Array | null> {
    return files.run(() => this.readRange(key, offset, length));
  }

  size(key: string): Promise<number | null> {
    return files.run(async () => {
      const handle = await openRegular(this.path(key));
      if (!handle) return null;
      try {
        return (await handle.stat()).size;
      } finally {
        await handle.close();
      }
    });
  }

  private async readRange(key: string, offset: number, length: number): Promise<Uint8Array | null> {
    const path = this.path(key);
    const handle = await openRegular(path);
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

  putPieces(key: string, body: PieceBody): Promise<void> {
    return files.run(() => this.write(key, body, {}));
  }

  private async write(key: string, data: Uint8Array | PieceBody, options: PutOptions): Promise<void> {
    const path = this.path(key);
    const { body, gzip } = data instanceof Uint8Array ? storedBody(data, options) : { body: data, gzip: false };
    const [target, other] = gzip ? [path + '.gz', path] : [path, path + '.gz'];
    const dir = dirname(path);
    try {
      // Directories made (or found) once per process: a layer's chunks share a few directories, and
      // a write needs no more syscalls than its own. One removed meanwhile is made again.
      if (!made.has(dir)) {
        await mkdir(dir, { recursive: true });
        made.add(dir);
      }
      await sweepOnce(dir);
      await writeAtomically(target, body).catch(async (e) => {
        if (!isMissing(e)) throw e;
        await mkdir(dir, { recursive: true });
        await writeAtomically(target, body);
      });
      // A rerun may switch compression: never leave two versions of one key.
      await unlink(other).catch((e) => {
        if (!isMissing(e)) throw e;
      });
    } catch (e) {
      throw fileError(e, target);
    }
  }

  async exists(key: string): Promise<boolean> {
    const path = this.path(key);
    return (await isFile(path)) || (await isFile(path + '.gz'));
  }

  async *listPages(prefix = ''): AsyncIterable<string[]> {
    // Walk only the deepest directory that the prefix names; one page per directory. A link to a
    // directory is walked when it stays inside the store; a link out of it is refused, as reading
    // through it would be, and links nested deeper than MAX_LINK_DEPTH are taken for a loop.
    const dirPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const pending: [string, number][] = [[dirPart ? join(this.root, ...dirPart.split('/')) : this.root, 0]];
    while (pending.length > 0) {
      const [dir, links] = pending.pop()!;
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
        if (entry.isDirectory()) pending.push([full, links]);
        else if (entry.isSymbolicLink() && (await stat(full).catch(() => null))?.isDirectory()) {
          await this.assertInside(full);
          if (links >= MAX_LINK_DEPTH) throw new InvalidInput(`${full}: links to directories nest more than ${MAX_LINK_DEPTH} deep (a loop?)`);
          pending.push([full, links + 1]);
        } else if (!TEMP.test(entry.name)) {
          const key = relative(this.root, full).split(sep).join('/').replace(/\.gz$/, '');
          if (!key.startsWith(prefix)) continue;
          // A write never leaves both (it removes the other); two objects for one key are ambiguous.
          if (page.has(key)) throw new InvalidInput(`${join(dir, entry.name.replace(/\.gz$/, ''))} and its .gz are both there: one key, two objects; keep one`);
          page.add(key);
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

/** Bytes a piece body is copied in. */
const PIECE_BYTES = 8 << 20;

async function writeAtomically(target: string, bytes: Uint8Array | PieceBody): Promise<void> {
  const temp = `${target}.tmp-${HOST}-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const handle = await open(temp, 'w');
    try {
      if (bytes instanceof Uint8Array) await handle.writeFile(bytes);
      else
        for (let at = 0; at < bytes.size; at += PIECE_BYTES) {
          const piece = await bytes.read(at, Math.min(PIECE_BYTES, bytes.size - at));
          await handle.write(piece, 0, piece.length, at);
        }
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
 * Removes temp files in `dir` that no live writer owns: a writer of this machine whose process is
 * gone (killed mid-write), or any an hour old (a writer on another machine sharing the directory).
 * Once per directory per process.
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
    // (A name without a host is from before hosts were named: its pid is trusted after 5 s.)
    const deadHere = (m[1] === HOST || (m[1] === undefined && age > 5_000)) && !processAlive(Number(m[2]));
    if (deadHere || age > 3_600_000) await rm(path, { force: true });
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

/**
 * The file at `path` opened for reading, or null when there is none. Opened without blocking, so a
 * FIFO (or a device) where an object belongs is refused at once instead of waiting for a writer.
 */
async function openRegular(path: string): Promise<FileHandle | null> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK).catch((e) => {
    if (isMissing(e)) return null;
    throw fileError(e, path);
  });
  if (!handle) return null;
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw new InvalidInput(`${path} is a directory, not a stored object`);
    if (!info.isFile()) throw new InvalidInput(`${path} is not a regular file (a FIFO, socket or device), not a stored object`);
    return handle;
  } catch (e) {
    await handle.close();
    throw fileError(e, path);
  }
}

/** A local file's bytes (null when there is none): regular files only, refused past `maxBytes`. */
export async function readLocalFile(path: string, maxBytes: number): Promise<Uint8Array | null> {
  return files.run(() => readOrNull(path, maxBytes));
}

async function readOrNull(path: string, maxBytes: number): Promise<Uint8Array | null> {
  const handle = await openRegular(path);
  if (!handle) return null;
  try {
    const { size } = await handle.stat();
    if (size > maxBytes) throw new CorruptData(`${path}: ${size} bytes, more than the ${maxBytes} expected`);
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
