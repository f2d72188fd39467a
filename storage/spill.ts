// A local scratch file that bytes too many to hold wait in until they can be written in order (a
// shard's chunks come in z slabs but are stored minishard by minishard). The file is unlinked as
// soon as it is open: its space is freed when it is closed, or when the process dies (kill -9 too),
// so a spill never outlives its task.
import { randomBytes } from 'node:crypto';
import { FileHandle, open, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInput } from '../common/errors.js';
import { storageOptions } from './options.js';
import { PieceBody } from './store.js';

/** Bytes kept at `at` in a spill. */
export interface Spilled {
  readonly spill: SpillFile;
  readonly at: number;
  readonly length: number;
}

export class SpillFile {
  private size = 0;
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly handle: FileHandle,
    readonly path: string,
  ) {}

  /** A new spill in `dir` (the storage options' spillDir, else the system's temp directory). */
  static async open(dir = storageOptions().spillDir ?? tmpdir()): Promise<SpillFile> {
    const path = join(dir, `digest-spill-${process.pid}-${randomBytes(4).toString('hex')}`);
    const handle = await open(path, 'wx+').catch((e) => {
      throw new InvalidInput(`spill directory ${dir}: cannot make a scratch file (${(e as Error).message}); set DIGEST_SPILL_DIR to a writable local disk`, {
        cause: e,
      });
    });
    await unlink(path);
    return new SpillFile(handle, path);
  }

  /** Appends `bytes` (copied to disk before this resolves; the caller may reuse them after). */
  append(bytes: Uint8Array): Promise<Spilled> {
    const at = this.size;
    this.size += bytes.length;
    const written = this.tail.then(async () => {
      for (let done = 0; done < bytes.length;) done += (await this.handle.write(bytes, done, bytes.length - done, at + done)).bytesWritten;
    });
    this.tail = written;
    return written.then(() => ({ spill: this, at, length: bytes.length }));
  }

  /** Bytes [at, at + length) into `out` at `offset`. */
  async readInto(at: number, length: number, out: Uint8Array, offset: number): Promise<void> {
    for (let done = 0; done < length;) {
      const { bytesRead } = await this.handle.read(out, offset + done, length - done, at + done);
      if (bytesRead === 0) throw new Error(`spill ${this.path}: ends at ${at + done}, inside bytes [${at}, ${at + length}) it was given`);
      done += bytesRead;
    }
  }

  /** Bytes on disk now. */
  get bytes(): number {
    return this.size;
  }

  async close(): Promise<void> {
    await this.tail.catch(() => {});
    await this.handle.close();
  }
}

/** A body made of `pieces` in order, held bytes and spilled ones, read a range at a time. */
export function piecesBody(pieces: (Uint8Array | Spilled)[]): PieceBody {
  const starts: number[] = [];
  let size = 0;
  for (const p of pieces) {
    starts.push(size);
    size += p.length;
  }
  return {
    size,
    async read(offset, length) {
      const end = Math.min(size, offset + length);
      const out = new Uint8Array(Math.max(0, end - offset));
      // The last piece starting at or before `offset`, then each piece overlapping [offset, end).
      let lo = 0,
        hi = pieces.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid] <= offset) lo = mid;
        else hi = mid - 1;
      }
      for (let i = lo; i < pieces.length && starts[i] < end; i++) {
        const from = Math.max(offset, starts[i]),
          to = Math.min(end, starts[i] + pieces[i].length);
        if (to <= from) continue;
        const p = pieces[i];
        if (p instanceof Uint8Array) out.set(p.subarray(from - starts[i], to - starts[i]), from - offset);
        else await p.spill.readInto(p.at + from - starts[i], to - from, out, from - offset);
      }
      return out;
    },
  };
}
