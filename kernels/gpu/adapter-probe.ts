// Which WebGPU adapter this machine gives, asked in a child process: Dawn writes its own warnings
// as plain text on the process's stderr (a missing Vulkan loader, reduced limits), which would break
// JSON logs, and a broken driver may crash the process that opens it. The child's stderr is kept
// and returned; the parent opens its own device only when the adapter is worth it.
//   node dist/kernels/gpu/adapter-probe.js      prints {"adapter": {...}} or {"error": "..."}
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { builtFile } from '../../common/built.js';
import { AdapterSummary, closeGpu, openGpu } from './device.js';

export interface AdapterProbe {
  adapter?: AdapterSummary;
  error?: string;
  /** What Dawn (or a crash) wrote on the child's stderr, one entry per line. */
  messages: string[];
}

/** Runs the probe in a child process (at most `timeoutMs`: a hung driver is no GPU). */
export function probeAdapter(timeoutMs = 60_000): Promise<AdapterProbe> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [builtFile('kernels/gpu/adapter-probe.js')],
      { timeout: timeoutMs, env: { ...process.env, EGL_PLATFORM: process.env.EGL_PLATFORM ?? 'surfaceless' } },
      (error, stdout, stderr) => {
        const messages = stderr
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l && !l.startsWith('at '));
        try {
          resolve({ ...(JSON.parse(stdout) as Omit<AdapterProbe, 'messages'>), messages });
        } catch {
          resolve({ error: `the adapter probe failed (${error?.signal ?? `exit ${error?.code ?? 0}`})`, messages });
        }
      },
    );
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const { adapter } = await openGpu();
    process.stdout.write(JSON.stringify({ adapter }));
    await closeGpu();
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: (e as Error).message }));
  }
}
