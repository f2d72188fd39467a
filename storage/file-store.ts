// file:// store. Writes are atomic (temp file + rename) so readers never see half a chunk;
// a gzipped object is kept as `key.gz`, as Neuroglancer-serving tools expect.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { gunzip, gzip } from './gzip.js';
import { checkKey, PutOptions, Store } from './store.js';

export class FileStore implements Store {
  readonly root: string;

  constructor(readonly url: string) {
    // file:///abs/path, file://relative/path and plain paths all name a directory.
    this.root = resolve(url.startsWith('file://') ? url.slice('file://'.length) : url);
  }

  private path(key: string): string {
    return join(this.root, ...checkKey(key).split('/'));
  }

  async get(key: string): Promise<Uint8Array | null> {
    const path = this.path(key);
    const plain = await readOrNull(path);
    if (plain) return plain;
    const zipped = await readOrNull(path + '.gz');
    return zipped ? gunzip(zipped, `${this.url}/${key}.gz`) : null;
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<void> {
    const path = this.path(key);
    const [target, other] = options.gzip ? [path + '.gz', path] : [path, path + '.gz'];
    await mkdir(dirname(path), { recursive: true });
    const temp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await writeFile(temp, options.gzip ? gzip(data) : data);
      await rename(temp, target);
    } catch (e) {
      await rm(temp, { force: true });
      throw e;
    }
    // A rerun may switch compression: never leave two versions of one key.
    await rm(other, { force: true });
  }

  async exists(key: string): Promise<boolean> {
    const path = this.path(key);
    return (await isFile(path)) || (await isFile(path + '.gz'));
  }

  async list(prefix = ''): Promise<string[]> {
    const keys = new Set<string>();
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return;
        throw e;
      }
      for (const entry of entries) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (!/\.tmp-\d+-[0-9a-f]{8}$/.test(entry.name)) {
          const key = relative(this.root, full).split(sep).join('/').replace(/\.gz$/, '');
          if (key.startsWith(prefix)) keys.add(key);
        }
      }
    };
    // Walk only the deepest directory that the prefix names.
    const dirPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    await walk(dirPart ? join(this.root, ...dirPart.split('/')) : this.root);
    return [...keys].sort();
  }

  async delete(key: string): Promise<void> {
    const path = this.path(key);
    await rm(path, { force: true });
    await rm(path + '.gz', { force: true });
  }
}

async function readOrNull(path: string): Promise<Uint8Array | null> {
  try {
    const buf = await readFile(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw e;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
