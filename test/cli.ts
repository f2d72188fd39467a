// The built `digest` CLI run as a user runs it, for tests: exit code, output and wall time; and a
// fresh temporary directory.
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const CLI = join(__dirname, '..', 'dist', 'cli', 'main.js');

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs `digest ...args` with `env` over this process's environment; never throws on a non-zero exit. */
export async function runDigest(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  const t0 = Date.now();
  const r = await promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, maxBuffer: 64 << 20 }).then(
    (o) => ({ code: 0, ...o }),
    (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
  );
  return { ...r, seconds: (Date.now() - t0) / 1000 };
}

export const tmpDir = (name: string) => mkdtemp(join(tmpdir(), `digest-${name}-`));
