// A real S3 server for tests: moto's (`python3 -m moto.server`, on these machines' Python) on
// 127.0.0.1, with test credentials in the environment. Missing moto skips the S3 tests with a
// warning, unless DIGEST_REQUIRE_S3=1 (as in .ci/run), which fails them.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { freePort } from './ports.js';

export interface S3Server {
  endpoint: string;
  /** Makes a bucket (names of 3 or more characters). */
  bucket(name: string): Promise<void>;
  stop(): void;
}

export async function s3Server(): Promise<S3Server | undefined> {
  if (spawnSync('python3', ['-c', 'import moto.server'], { stdio: 'ignore' }).status !== 0) {
    if (process.env.DIGEST_REQUIRE_S3 === '1') throw new Error("DIGEST_REQUIRE_S3=1 but python3 has no moto (moto's S3 server)");
    console.warn('skipping S3 tests: python3 has no moto');
    return undefined;
  }
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1' });
  const port = await freePort();
  const child: ChildProcess = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore', detached: true });
  const endpoint = `http://127.0.0.1:${port}`;
  // Up when it answers HTTP (a slow machine only waits longer: up to 2 minutes).
  for (let i = 0; ; i++) {
    try {
      await fetch(endpoint);
      break;
    } catch {
      if (i > 1200 || child.exitCode !== null) throw new Error(`moto's S3 server did not start on ${endpoint}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const admin = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1' });
  return {
    endpoint,
    bucket: async (name) => {
      await admin.send(new CreateBucketCommand({ Bucket: name }));
    },
    stop: () => {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        child.kill('SIGTERM');
      }
    },
  };
}
