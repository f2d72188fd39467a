// vitest global setup: gives the gpu-backend tests an X display. headless-gl renders through GLX, so
// without DISPLAY this starts Xvfb (Mesa's software GL) for the test run, when Xvfb is installed.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => existsSync(`${dir}/${program}`));
}

export default async function setup(): Promise<(() => void) | undefined> {
  if (process.env.DISPLAY || !onPath('Xvfb')) return undefined;
  let n = 90 + (process.pid % 400);
  while (existsSync(`/tmp/.X11-unix/X${n}`) || existsSync(`/tmp/.X${n}-lock`)) n++;
  const xvfb = spawn('Xvfb', [`:${n}`, '-screen', '0', '64x64x24', '-nolisten', 'tcp'], { stdio: 'ignore' });
  for (let waited = 0; !existsSync(`/tmp/.X11-unix/X${n}`); waited += 50) {
    if (waited > 10_000 || xvfb.exitCode !== null) throw new Error(`Xvfb :${n} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
  process.env.DISPLAY = `:${n}`;
  return () => xvfb.kill();
}
