// Benchmark: the petabyte plans with default flags. For each volume (the 100 TB example: 200,000 x
// 200,000 x 2,500 at 4x4x40 nm; and 250,000 x 250,000 x 25,000, 1.56 PB) and each layout (unsharded,
// `create-layer --sharded` with its defaults), empty layers are made on file:// (an EM image, the
// affinities, the watershed), then `digest plan ingest`, `plan watershed` and `plan agglomerate` run
// with `--estimate` in fresh processes under /usr/bin/time: wall time, peak RSS, and the estimate's
// table (tasks, objects, reads, writes, core-hours per stage).
//   node dist/bench/plan-scale.js [--dir D] [--only 100tb|1.5pb]
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { dir: { type: 'string' }, only: { type: 'string' } } });
const dir = values.dir ?? '/tmp/digest-bench-plan-scale';
const cli = join(import.meta.dirname, '..', 'cli', 'main.js');

const VOLUMES = [
  { name: '100tb', label: '100 TB (200,000 x 200,000 x 2,500)', size: '200000,200000,2500' },
  { name: '1.5pb', label: '1.56 PB (250,000 x 250,000 x 25,000)', size: '250000,250000,25000' },
].filter((v) => !values.only || v.name === values.only);
const COMMON = ['--resolution', '4,4,40', '--chunk', '128,128,64'];
const FACTORS = ['--factor', '2,2,1', '--factor', '2,2,1', '--factor', '2,2,1', '--factor', '2,2,2'];
const WATERSHED = ['--high', '0.99', '--low', '0.05', '--merge-threshold', '0.5', '--merge-size', '2000', '--dust-size', '50', '--overlap', '8'];

function digest(args: string[]): { stdout: string; seconds: number; rss: number } {
  const run = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, cli, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`digest ${args.join(' ')} failed: ${run.stderr}`);
  const [seconds, kib] = run.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { stdout: run.stdout, seconds, rss: kib * 1024 };
}

console.log(
  `# plan-scale, ${new Date().toISOString().slice(0, 10)}, ${cpus().length} x ${cpus()[0].model}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}\n`,
);
for (const volume of VOLUMES) {
  for (const sharded of [false, true]) {
    const root = join(dir, `${volume.name}-${sharded ? 'sharded' : 'unsharded'}`);
    await rm(root, { recursive: true, force: true });
    const url = (name: string) => `file://${join(root, name)}`;
    const shard = sharded ? ['--sharded'] : [];
    digest(['create-layer', url('em'), '--type', 'image', '--dtype', 'uint8', '--size', volume.size, ...COMMON, ...FACTORS, ...shard]);
    digest(['create-layer', url('aff'), '--type', 'image', '--dtype', 'float32', '--channels', '3', '--size', volume.size, ...COMMON, '--mips', '0', ...shard]);
    digest(['create-layer', url('ws'), '--type', 'segmentation', '--dtype', 'uint64', '--size', volume.size, ...COMMON, ...FACTORS, ...shard]);
    const plans: [string, string[]][] = [
      [
        'plan ingest (EM image, 1024x1024x128 build chunks)',
        ['plan', 'ingest', '--layer', url('em'), '--build', url('build'), '--build-size', '1024,1024,128'],
      ],
      ['plan watershed', ['plan', 'watershed', '--affinities', url('aff'), '--segmentation', url('ws'), ...WATERSHED]],
      ['plan agglomerate (multires meshes)', ['plan', 'agglomerate', '--affinities', url('aff'), '--segmentation', url('ws'), '--threshold', '0.6']],
    ];
    for (const [what, args] of plans) {
      console.log(`## ${volume.label}, ${sharded ? 'sharded' : 'unsharded'}: ${what}\n`);
      try {
        const run = digest([...args, '--estimate']);
        console.log(`${run.seconds.toFixed(1)} s, peak RSS ${Math.round(run.rss / 2 ** 20)} MiB\n\n${run.stdout.trim()}\n`);
      } catch (e) {
        const message = String((e as Error).message);
        console.log(`refused: ${/digest: ([^\n]*)/.exec(message)?.[1] ?? message.slice(-300)}\n`);
      }
    }
  }
}
