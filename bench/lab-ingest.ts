// Benchmark: a lab file of 4 GiB ingested by `digest import` on 2 threads, against reading the same
// file with its writer's library in Python (one thread, region by region). The files are written
// first by Debian's python3-tifffile (a tiled, deflate BigTIFF of 256x256 tiles) and python3-h5py
// (a chunked gzip dataset of 64^3 chunks): a uint8 image of membrane-like waves and a little noise,
// 2048 x 2048 x 1024 voxels. One Ingest task at its planned size then runs alone under
// /usr/bin/time: its peak RSS against the planner's figure. Prints markdown for bench/RESULTS.md.
//   node dist/bench/lab-ingest.js [--size 2048,2048,1024] [--dir D] [--formats tiff,hdf5]
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseChunkKey, shapeOf } from '../common/box.js';
import { Volume } from '../precomputed/volume.js';
import { taskAt } from '../tasks/plan/format.js';
import { parsePlan, sourceIngestPeakBytes } from '../tasks/plan/planners.js';

const { values } = parseArgs({ options: { size: { type: 'string' }, dir: { type: 'string' }, formats: { type: 'string' } } });
const [X, Y, Z] = (values.size ?? '2048,2048,1024').split(',').map(Number);
const dir = values.dir ?? '/tmp/digest-bench-lab-ingest';
const formats = (values.formats ?? 'tiff,hdf5').split(',');
const cli = join(import.meta.dirname, '..', 'cli', 'main.js');
const mib = (b: number) => `${Math.round(b / 2 ** 20).toLocaleString('en')} MiB`;

/** Runs a command under /usr/bin/time: its peak RSS and wall time. */
function timed(cmd: string, args: string[]): { seconds: number; rss: number; stdout: string } {
  const run = spawnSync('/usr/bin/time', ['-f', '%M %e', cmd, ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (run.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${run.stderr.slice(-2000)}`);
  const [kib, seconds] = run.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { rss: kib * 1024, seconds, stdout: run.stdout };
}

const PYTHON_WRITE = `
import sys, numpy as np, tifffile, h5py
fmt, path, X, Y, Z = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
fx = np.sin(np.arange(X) / 2.3); fy = np.cos(np.arange(Y) / 2.9)
rng = np.random.default_rng(1)
def plane(z):
    return (128 + 50 * np.outer(fy, fx) + 20 * np.sin(z / 5) + rng.integers(0, 8, (Y, X))).astype(np.uint8)
if fmt == 'tiff':
    # tifffile takes an iterator of tiles (256 x 256, row by row, page by page) for a tiled file.
    def tiles():
        for z in range(Z):
            p = np.zeros((-(-Y // 256) * 256, -(-X // 256) * 256), np.uint8)
            p[:Y, :X] = plane(z)
            for ty in range(0, p.shape[0], 256):
                for tx in range(0, p.shape[1], 256):
                    yield p[ty:ty + 256, tx:tx + 256]
    tifffile.imwrite(path, tiles(), shape=(Z, Y, X), dtype=np.uint8, bigtiff=True, tile=(256, 256), compression='zlib')
else:
    with h5py.File(path, 'w') as f:
        d = f.create_dataset('/volumes/raw', shape=(Z, Y, X), dtype=np.uint8, chunks=(64, 64, 64), compression='gzip')
        for z0 in range(0, Z, 64):
            d[z0:z0 + 64] = np.stack([plane(z) for z in range(z0, min(Z, z0 + 64))])
`;

// The writer's library reading the whole file, one region of 64 z-slices at a time (one thread).
const PYTHON_READ = `
import sys, time, numpy as np, tifffile, h5py, zarr
fmt, path = sys.argv[1], sys.argv[2]
t0 = time.time(); total = 0
if fmt == 'tiff':
    store = tifffile.imread(path, aszarr=True)
    a = zarr.open(store, mode='r')
    for z0 in range(0, a.shape[0], 64):
        total += int(a[z0:z0 + 64].sum(dtype=np.uint64) > 0)
    store.close()
else:
    with h5py.File(path, 'r') as f:
        d = f['/volumes/raw']
        for z0 in range(0, d.shape[0], 64):
            total += int(d[z0:z0 + 64].sum(dtype=np.uint64) > 0)
print(time.time() - t0)
`;

console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`);
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'write.py'), PYTHON_WRITE);
writeFileSync(join(dir, 'read.py'), PYTHON_READ);
const voxels = X * Y * Z;
const rows: string[] = [];
for (const format of formats) {
  const file = join(dir, format === 'tiff' ? 'volume.tif' : 'volume.h5');
  const source = format === 'tiff' ? `file://${file}` : `file://${file}#/volumes/raw`;
  const w = timed('/usr/bin/python3', [join(dir, 'write.py'), format, file, String(X), String(Y), String(Z)]);
  console.error(`${format}: written in ${w.seconds} s, ${statSync(file).size} bytes`);
  const layer = `file://${join(dir, `layer-${format}`)}`;
  const args = ['--resolution', '4,4,40', '--chunk', '128,128,64', '--factor', '2,2,1', '--threads', '2', '--backend', 'cpu'];
  const imp = timed(process.execPath, [cli, 'import', source, layer, ...args]);
  // One Ingest task at its planned size, alone.
  const plan = join(dir, `plan-${format}.json`);
  timed(process.execPath, [cli, 'plan', 'ingest', '--layer', layer, '--source', source, '--out', plan]);
  const loaded = parsePlan(readFileSync(plan), plan);
  const task = taskAt(loaded.stages[0], 0) as { chunk_position: string };
  const region = shapeOf(parseChunkKey(task.chunk_position));
  const planned = sourceIngestPeakBytes((await Volume.open(layer)).info, region);
  const one = timed(process.execPath, [cli, 'task', JSON.stringify(task), '--backend', 'cpu']);
  const py = timed('/usr/bin/python3', [join(dir, 'read.py'), format, file]);
  const pySeconds = Number(py.stdout.trim());
  rows.push(
    `| ${format === 'tiff' ? 'tiled BigTIFF (256^2 tiles, deflate)' : 'HDF5 (64^3 chunks, gzip)'} | ${(statSync(file).size / 2 ** 30).toFixed(2)} GiB | ${imp.seconds.toFixed(0)} s, ${(voxels / 1e6 / imp.seconds).toFixed(1)} MVx/s, ${mib(imp.rss)} | ${region.join('x')}: ${one.seconds.toFixed(1)} s, ${mib(one.rss)} (planned ${mib(planned)}) | ${pySeconds.toFixed(0)} s, ${(voxels / 1e6 / pySeconds).toFixed(1)} MVx/s, ${mib(py.rss)} |`,
  );
  rmSync(join(dir, `layer-${format}`), { recursive: true, force: true });
  rmSync(file, { force: true });
}
console.log(`\n${X}x${Y}x${Z} uint8 (${(voxels / 2 ** 30).toFixed(1)} GiB of voxels); layer chunks 128x128x64, 2x2x1 mips, raw\n`);
console.log(
  "| file | size | `digest import`, 2 threads: time, rate, peak RSS | one Ingest task alone: region, time, peak RSS | the writer's library reading it (Python, 1 thread) |",
);
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
