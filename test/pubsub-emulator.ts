// The real Pub/Sub emulator for tests (gcloud beta emulators pubsub start, Java). .ci/run starts one
// and exports PUBSUB_EMULATOR_HOST; otherwise the tests start their own. Missing emulator skips the
// Pub/Sub tests with a warning, unless DIGEST_REQUIRE_PUBSUB=1 (as in .ci/run), which fails them.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { freePort } from './ports.js';

export interface Emulator {
  host: string;
  stop(): void;
}

/** The emulator's host:port, started here if none is running; undefined (with a warning) if there is none. */
export async function pubsubEmulator(): Promise<Emulator | undefined> {
  if (process.env.PUBSUB_EMULATOR_HOST) return { host: process.env.PUBSUB_EMULATOR_HOST, stop: () => {} };
  try {
    execFileSync('gcloud', ['--version'], { stdio: 'ignore' });
  } catch {
    if (process.env.DIGEST_REQUIRE_PUBSUB === '1') throw new Error('DIGEST_REQUIRE_PUBSUB=1 but gcloud (with the Pub/Sub emulator) is not installed');
    console.warn('skipping Pub/Sub tests: gcloud is not installed');
    return undefined;
  }
  const port = await freePort();
  const child: ChildProcess = spawn('gcloud', ['beta', 'emulators', 'pubsub', 'start', `--host-port=127.0.0.1:${port}`, '--project=digest-test'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the Pub/Sub emulator did not start within 60 s')), 60_000);
    const watch = (chunk: Buffer) => {
      if (chunk.toString().includes('Server started')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', watch);
    child.stderr!.on('data', watch);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the Pub/Sub emulator exited with ${code}`));
    });
  });
  // gcloud starts Java in a process group of its own; stop them all.
  return {
    host: `127.0.0.1:${port}`,
    stop: () => {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* gone */
      }
    },
  };
}
