// The findings of the third attack on digest (issue 21), one describe per finding: each test
// reproduces what went wrong and checks what happens now.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { encodeNpy, encodeNpz } from '../codecs/npz.js';
import { averageDownsample, modeDownsample } from '../kernels/downsample.js';
import { box, Vec3 } from '../precomputed/box.js';
import { TypedArray } from '../precomputed/dtype.js';
import { Volume } from '../precomputed/volume.js';
import { referencePyramid, seededRandom } from '../test/reference.js';

const cli = join(__dirname, '..', 'dist', 'engine', 'cli.js');
const dist = join(__dirname, '..', 'dist');
const tmp = (name: string) => mkdtemp(join(tmpdir(), `digest-${name}-`));

interface Ran { code: number; stdout: string; stderr: string }
function digest(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return promisify(execFile)(process.execPath, [cli, ...args], { env: { ...process.env, ...env }, maxBuffer: 64 << 20 })
    .then((o) => ({ code: 0, ...o }), (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }));
}

/** Writes `data` ([x, y, z] x-fastest over `size`) as npz build chunks of `step` under `dir`. */
async function writeBuild(dir: string, data: TypedArray, size: Vec3, step: Vec3): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (let z = 0; z < size[2]; z += step[2]) for (let y = 0; y < size[1]; y += step[1]) for (let x = 0; x < size[0]; x += step[0]) {
    const s: Vec3 = [Math.min(step[0], size[0] - x), Math.min(step[1], size[1] - y), Math.min(step[2], size[2] - z)];
    const part = new (data.constructor as any)(s[0] * s[1] * s[2]) as TypedArray;
    let o = 0;
    for (let k = 0; k < s[2]; k++) for (let j = 0; j < s[1]; j++) for (let i = 0; i < s[0]; i++) (part as any)[o++] = (data as any)[x + i + size[0] * (y + j + size[1] * (z + k))];
    await writeFile(join(dir, `${x}-${x + s[0]}_${y}-${y + s[1]}_${z}-${z + s[2]}.npz`), encodeNpz({ data: encodeNpy(part, s) }));
  }
}

/** create-layer, plan ingest, run --local: the CLI as a user runs it; throws with its output on failure. */
async function ingest(layer: string, build: string, flags: string[]): Promise<void> {
  for (const args of [['create-layer', layer, ...flags], ['plan', 'ingest', '--layer', layer, '--build', build, '--out', `${layer}.plan.json`], ['run', `${layer}.plan.json`, '--local', '--threads', '2', '--backend', 'cpu']]) {
    const r = await digest(args);
    if (r.code !== 0) throw new Error(`digest ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  }
}

describe('finding 0: 2x2x1 downsampling on a fresh thread', () => {
  // A fresh thread's WebAssembly memory is as small as the module starts (one page); the kernel's
  // input for 2x2x1 is larger than its output and must still fit.
  const kinds = ['uint8', 'uint16', 'float32', 'uint32', 'uint64'] as const;
  for (const kind of kinds) {
    it(`equals the JS loops for ${kind}, [256, 256, 2] by 2x2x1, as the first call of a thread`, async () => {
      const shape: Vec3 = [256, 256, 2];
      const n = shape[0] * shape[1] * shape[2];
      const r = seededRandom(kinds.indexOf(kind) + 5);
      const data: TypedArray = kind === 'uint8' ? Uint8Array.from({ length: n }, () => Math.floor(r() * 256))
        : kind === 'uint16' ? Uint16Array.from({ length: n }, () => Math.floor(r() * 65536))
        : kind === 'float32' ? Float32Array.from({ length: n }, () => r() * 100)
        : kind === 'uint32' ? Uint32Array.from({ length: n }, () => Math.floor(r() * 3))
        : BigUint64Array.from({ length: n }, () => BigInt(Math.floor(r() * 3)) << 40n);
      const input = { data, shape, channels: 1, factor: [2, 2, 1] as Vec3, phase: [0, 0, 0] as Vec3 };
      const image = kind === 'uint8' || kind === 'uint16' || kind === 'float32';
      const expected = image ? averageDownsample(input, { jsOnly: true }) : modeDownsample(input, { jsOnly: true });
      const module = join(dist, 'kernels', 'downsample.js');
      const code = `const { workerData, parentPort } = require('node:worker_threads');
        import(${JSON.stringify(module)}).then((k) => {
          const input = { ...workerData, factor: [2, 2, 1], phase: [0, 0, 0] };
          parentPort.postMessage(workerData.image ? k.averageDownsample(input) : k.modeDownsample(input));
        }).catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`;
      const got = await new Promise<any>((resolve, reject) => {
        const worker = new Worker(code, { eval: true, workerData: { data, shape, channels: 1, image } });
        worker.once('message', (m) => { void worker.terminate(); resolve(m); });
        worker.once('error', reject);
      });
      expect(got.error).toBeUndefined();
      expect(got).toEqual(expected);
    });
  }

  const size: Vec3 = [256, 256, 8];
  for (const [encoding, type, dtype] of [['jpeg', 'image', 'uint8'], ['raw', 'image', 'uint16'], ['compressed_segmentation', 'segmentation', 'uint64'], ['raw', 'segmentation', 'uint32']] as const) {
    it(`ingests a ${dtype} ${encoding} layer with --factor 2,2,1 and reads back the pyramid`, async () => {
      const dir = await tmp('aniso');
      const n = size[0] * size[1] * size[2];
      const r = seededRandom(17);
      // Smooth enough for JPEG to keep close; labels in runs so that the mode has work.
      const data: TypedArray = dtype === 'uint8' ? Uint8Array.from({ length: n }, (_, i) => 100 + ((i % 256) >> 3) + Math.floor(r() * 4))
        : dtype === 'uint16' ? Uint16Array.from({ length: n }, () => Math.floor(r() * 65536))
        : dtype === 'uint64' ? BigUint64Array.from({ length: n }, (_, i) => BigInt(1 + ((i >> 4) % 7)) * 0x1_0000_0001n)
        : Uint32Array.from({ length: n }, (_, i) => 1 + ((i >> 3) % 5));
      await writeBuild(join(dir, 'build'), data, size, [256, 256, 8]); // one task: its region is the kernel's input
      const layer = join(dir, 'layer');
      await ingest(layer, join(dir, 'build'), ['--type', type, '--dtype', dtype, '--size', size.join(','), '--resolution', '4,4,40', '--encoding', encoding, '--factor', '2,2,1', '--mips', '3', '--chunk', '64,64,8']);
      const volume = await Volume.open(layer);
      const mip0 = await volume.read(0, box([0, 0, 0], size));
      if (encoding === 'jpeg') {
        let worst = 0;
        for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs((mip0 as Uint8Array)[i] - (data as Uint8Array)[i]));
        expect(worst).toBeLessThan(16);
        return;
      }
      const levels = referencePyramid(volume.info, data);
      for (let m = 0; m < volume.info.scales.length; m++) {
        const s = volume.info.scales[m].size;
        expect(Array.from(await volume.read(m, box([0, 0, 0], s)) as ArrayLike<any>)).toEqual(levels[m]);
      }
    });
  }
});

describe('finding 1: digest reads back what it writes, for chunks that coding cannot shrink', () => {
  for (const sharded of [false, true]) {
    it(`uniformly random uint8 build chunks, default layer${sharded ? ', sharded' : ''}: ingest + downsample read back exactly`, async () => {
      const dir = await tmp('entropy');
      const size: Vec3 = [128, 128, 128];
      const data = new Uint8Array(randomBytes(size[0] * size[1] * size[2]));
      await writeBuild(join(dir, 'build'), data, size, [64, 64, 64]);
      const layer = join(dir, 'layer');
      await ingest(layer, join(dir, 'build'), ['--type', 'image', '--dtype', 'uint8', '--size', size.join(','), '--resolution', '8,8,8', '--mips', '3', ...(sharded ? ['--sharded'] : [])]);
      const volume = await Volume.open(layer);
      const levels = referencePyramid(volume.info, data);
      for (let m = 0; m < volume.info.scales.length; m++) {
        const s = volume.info.scales[m].size;
        expect(Buffer.from((await volume.read(m, box([0, 0, 0], s))).buffer).equals(Buffer.from(Uint8Array.from(levels[m] as number[])))).toBe(true);
      }
    });
  }
});
