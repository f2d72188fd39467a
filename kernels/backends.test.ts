// Every kernel on both backends: the cpu kernels against brute force (the downsampling ones are in
// downsample.test.ts), the gpu kernels (WGSL on Dawn's WebGPU: Mesa's llvmpipe through OpenGL ES in
// CI, Vulkan on a GPU) against the cpu ones. test/gpu.ts says what happens where no adapter opens.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configureLog } from '../common/log.js';
import { Vec3 } from '../common/box.js';
import { gpuKernelsForTests } from '../test/gpu.js';
import { seededRandom } from '../test/reference.js';
import { BoundaryInput, NOT_BOUNDARY } from './affinity.js';
import { cpuKernels, gpuDeviceNodes, parseBackendChoice, selectKernels } from './backend.js';
import { DownsampleInput } from './downsample.js';
import { closeGpu } from './gpu/device.js';
import { CASE_TRIANGLE_COUNTS, CORNERS } from './marching-cubes-table.js';
import { labelsOfIds, renumberLabels } from './renumber.js';

const gpu = await gpuKernelsForTests();
afterAll(() => closeGpu());
const describeGpu = gpu ? describe : describe.skip;

/** Where two arrays first differ, with both values: '' when equal (readable failures on big arrays). */
function difference(got: ArrayLike<number | bigint>, want: ArrayLike<number | bigint>): string {
  if (got.length !== want.length) return `length ${got.length} != ${want.length}`;
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) return `at ${i}: got ${got[i]}, want ${want[i]}`;
  return '';
}

const SHAPES: Vec3[] = [
  [1, 1, 1],
  [2, 2, 2],
  [7, 5, 3],
  [16, 9, 4],
  [3, 1, 6],
  [33, 17, 11],
  [1, 13, 2],
];
const voxels = (s: Vec3) => s[0] * s[1] * s[2];

function labelsNear(kind: 'uint32' | 'uint64', n: number, random: () => number, distinct: number): Uint32Array | BigUint64Array {
  // Values that float32 cannot tell apart: above 2^24, near 2^32 and near 2^64, differing in low bits.
  const pool32 = [0, 1, 2 ** 24 + 1, 2 ** 24 + 2, 2 ** 32 - 1, 2 ** 32 - 2, 123456789];
  const pool64 = [0n, 1n, 2n ** 64n - 1n, 2n ** 64n - 2n, 2n ** 63n + 1n, 2n ** 32n + 5n, 5n, 2n ** 53n + 1n];
  if (kind === 'uint32') return Uint32Array.from({ length: n }, () => pool32[Math.floor(random() * Math.min(distinct, pool32.length))]);
  return BigUint64Array.from({ length: n }, () => pool64[Math.floor(random() * Math.min(distinct, pool64.length))]);
}

describe('chunk-local label ids', () => {
  it('keep label order, give 0 the id 0, and map back exactly', async () => {
    const labels = BigUint64Array.from([2n ** 64n - 1n, 0n, 7n, 2n ** 64n - 2n, 7n, 2n ** 33n]);
    const r = renumberLabels(labels);
    expect(Array.from(r.ids)).toEqual([4, 0, 1, 3, 1, 2]);
    expect(Array.from(labelsOfIds(r.ids, r) as BigUint64Array)).toEqual(Array.from(labels));
  });

  it('handle many distinct labels (the hash table grows)', async () => {
    const labels = Uint32Array.from({ length: 50_000 }, (_, i) => (i * 2654435761) >>> 0);
    const r = renumberLabels(labels);
    const sorted = [...new Set(labels)].filter((l) => l !== 0).sort((a, b) => a - b);
    expect(r.labels.length).toBe(sorted.length + 1);
    expect(Array.from(labelsOfIds(r.ids, r) as Uint32Array)).toEqual(Array.from(labels));
    labels.forEach((l, i) => expect(r.ids[i]).toBe(l === 0 ? 0 : sorted.indexOf(l) + 1));
  });
});

describe('boundary affinities (cpu) against brute force', () => {
  it('selects exactly the edges between two different non-zero labels', async () => {
    const random = seededRandom(3);
    for (const shape of SHAPES) {
      const n = voxels(shape);
      const labels = labelsNear('uint64', n, random, 4);
      const affinities = Float32Array.from({ length: 3 * n }, () => random());
      const got = await cpuKernels.boundaryAffinities({ labels, affinities, shape });
      for (let z = 0; z < shape[2]; z++)
        for (let y = 0; y < shape[1]; y++)
          for (let x = 0; x < shape[0]; x++) {
            const v = x + shape[0] * (y + shape[1] * z);
            const back: Vec3[] = [
              [x - 1, y, z],
              [x, y - 1, z],
              [x, y, z - 1],
            ];
            back.forEach(([bx, by, bz], c) => {
              const inside = bx >= 0 && by >= 0 && bz >= 0;
              const u = bx + shape[0] * (by + shape[1] * bz);
              const boundary = inside && labels[v] !== 0n && labels[u] !== 0n && labels[v] !== labels[u];
              expect(got[c * n + v]).toBe(boundary ? affinities[c * n + v] : NOT_BOUNDARY);
            });
          }
    }
  });

  it('refuses affinities outside [0, 1] and wrong lengths, naming the voxel', async () => {
    const input: BoundaryInput = { labels: new Uint32Array(8), affinities: new Float32Array(24), shape: [2, 2, 2] };
    input.affinities[10] = NaN;
    await expect(cpuKernels.boundaryAffinities(input)).rejects.toThrow(/affinity NaN at channel 1, voxel 2 is outside \[0, 1\]/);
    await expect(cpuKernels.boundaryAffinities({ ...input, affinities: new Float32Array(23) })).rejects.toThrow(/3 channels of \[2,2,2\] need 24/);
  });
});

describe('marching-cubes scan (cpu) against brute force', () => {
  it('gives each cube its case and the running triangle count', async () => {
    const random = seededRandom(4);
    for (const shape of SHAPES) {
      const mask = Uint8Array.from({ length: voxels(shape) }, () => (random() < 0.45 ? 1 : 0));
      const { cubes, cases, offsets } = await cpuKernels.marchingCubesScan(mask, shape);
      expect(cubes).toEqual(shape.map((s) => s - 1));
      let i = 0,
        total = 0;
      for (let z = 0; z < cubes[2]; z++)
        for (let y = 0; y < cubes[1]; y++)
          for (let x = 0; x < cubes[0]; x++, i++) {
            let c = 0;
            CORNERS.forEach(([dx, dy, dz], bit) => {
              if (mask[x + dx + shape[0] * (y + dy + shape[1] * (z + dz))]) c |= 1 << bit;
            });
            expect(cases[i]).toBe(c);
            expect(offsets[i]).toBe(total);
            total += CASE_TRIANGLE_COUNTS[c];
          }
      expect(offsets[i]).toBe(total);
    }
  });

  it('has the textbook triangle counts for simple cases', async () => {
    expect(CASE_TRIANGLE_COUNTS[0]).toBe(0);
    expect(CASE_TRIANGLE_COUNTS[255]).toBe(0);
    for (let bit = 0; bit < 8; bit++) expect(CASE_TRIANGLE_COUNTS[1 << bit]).toBe(1); // one corner cut off
    expect(CASE_TRIANGLE_COUNTS[0b0000_0011]).toBe(2); // an edge: a quad
    expect(CASE_TRIANGLE_COUNTS[0b0000_1111]).toBe(2); // a face: a quad across the cube
    expect(CASE_TRIANGLE_COUNTS[0b0000_0101]).toBe(2); // diagonal corners of one face: two separate corners
  });
});

describe('backend selection', () => {
  it('parses the choice and names the field on a bad one', async () => {
    expect(parseBackendChoice(undefined)).toBe('auto');
    expect(parseBackendChoice('gpu')).toBe('gpu');
    expect(() => parseBackendChoice('cuda', '--backend')).toThrow('--backend: "cuda" is not one of auto, cpu, gpu');
  });

  it('gives the cpu kernels for cpu', async () => {
    expect(await selectKernels('cpu')).toBe(cpuKernels);
  });

  it('finds GPU device nodes under any number: /dev/nvidia<N> and /dev/dri/renderD<N>, nothing else', async () => {
    const dev = await mkdtemp(join(tmpdir(), 'digest-dev-'));
    await mkdir(join(dev, 'dri'));
    for (const f of ['nvidia3', 'nvidia12', 'nvidiactl', 'nvidia-uvm', 'nvidia-modeset', 'dri/card0', 'dri/renderD129', 'null'])
      await writeFile(join(dev, f), '');
    expect(gpuDeviceNodes(dev).sort()).toEqual([join(dev, 'dri/renderD129'), join(dev, 'nvidia12'), join(dev, 'nvidia3')]);
    expect(gpuDeviceNodes(join(dev, 'missing'))).toEqual([]);
  });

  it('auto without a device node: the cpu kernels and one JSON log line saying why', async () => {
    const dev = await mkdtemp(join(tmpdir(), 'digest-dev-'));
    const lines = await jsonLogLines(
      () => selectKernels('auto', dev),
      (k) => expect(k).toBe(cpuKernels),
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ severity: 'INFO', backend: 'cpu', choice: 'auto', reason: expect.stringMatching(/no GPU device node/) });
  });
});

/** The lines `run` writes on stderr with JSON logs on, each parsed (a plain-text line fails the parse). */
async function jsonLogLines<T>(run: () => Promise<T>, check: (result: T) => void): Promise<Record<string, unknown>[]> {
  const written: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  configureLog('json');
  try {
    check(await run());
  } finally {
    configureLog('text');
    process.stderr.write = write;
  }
  return written
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

describeGpu('auto on a software adapter', () => {
  it("asks the adapter in a child process, refuses llvmpipe, and logs one JSON line with Dawn's messages inside", async () => {
    const dev = await mkdtemp(join(tmpdir(), 'digest-dev-'));
    await mkdir(join(dev, 'dri'));
    await writeFile(join(dev, 'dri', 'renderD128'), '');
    const lines = await jsonLogLines(
      () => selectKernels('auto', dev),
      (k) => expect(k).toBe(cpuKernels),
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      backend: 'cpu',
      reason: expect.stringMatching(/software renderer/),
      adapter: expect.stringMatching(/llvmpipe/),
      devices: [join(dev, 'dri', 'renderD128')],
    });
    expect(Array.isArray(lines[0].dawn)).toBe(true);
  });
});

describeGpu('gpu kernels agree with the cpu kernels', () => {
  const g = gpu!;
  const factors: Vec3[] = [
    [2, 2, 2],
    [2, 2, 1],
    [1, 2, 2],
  ];
  const phases = (f: Vec3): Vec3[] => [[0, 0, 0], f.map((x) => x - 1) as Vec3];

  it('average downsample, uint8 and uint16, bit for bit, odd sizes, phases, 2 channels', async () => {
    const random = seededRandom(5);
    for (const shape of SHAPES)
      for (const factor of factors)
        for (const phase of phases(factor)) {
          for (const [make, max] of [
            [(n: number) => new Uint8Array(n), 256],
            [(n: number) => new Uint16Array(n), 65536],
          ] as const) {
            const data = make(2 * voxels(shape)).map(() => Math.floor(random() * max));
            data[0] = max - 1;
            const input: DownsampleInput = { data, shape, channels: 2, factor, phase };
            expect(
              difference((await g.averageDownsample(input)) as Uint16Array, (await cpuKernels.averageDownsample(input)) as Uint16Array),
              `${shape} ${factor} ${phase}`,
            ).toBe('');
          }
        }
  });

  it('average downsample, float32, within 2e-6 of the largest child magnitude', async () => {
    const random = seededRandom(6);
    for (const shape of SHAPES)
      for (const factor of factors) {
        const data = Float32Array.from({ length: voxels(shape) }, () => (random() - 0.3) * 1000);
        const input: DownsampleInput = { data, shape, channels: 1, factor };
        const want = (await cpuKernels.averageDownsample(input)) as Float32Array,
          got = (await g.averageDownsample(input)) as Float32Array;
        expect(got.length).toBe(want.length);
        const scale = Math.max(...Array.from(data, Math.abs));
        got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThanOrEqual(2e-6 * scale));
      }
  });

  it('mode downsample, uint32 and uint64 labels above 2^24 and near 2^64, bit for bit', async () => {
    const random = seededRandom(7);
    for (const shape of SHAPES)
      for (const factor of factors)
        for (const phase of phases(factor))
          for (const kind of ['uint32', 'uint64'] as const) {
            for (const distinct of [2, 3, 8]) {
              const data = labelsNear(kind, voxels(shape), random, distinct);
              const input: DownsampleInput = { data, shape, channels: 1, factor, phase };
              expect(difference(await g.modeDownsample(input), await cpuKernels.modeDownsample(input)), `${kind} ${shape} ${factor} ${phase}`).toBe('');
            }
          }
  });

  it('boundary affinities, bit for bit', async () => {
    const random = seededRandom(8);
    for (const shape of SHAPES)
      for (const kind of ['uint32', 'uint64'] as const) {
        const n = voxels(shape);
        const affinities = Float32Array.from({ length: 3 * n }, () => (random() < 0.1 ? 0 : random() < 0.1 ? 1 : Math.fround(random())));
        const input = { labels: labelsNear(kind, n, random, 5), affinities, shape };
        const want = await cpuKernels.boundaryAffinities(input),
          got = await g.boundaryAffinities(input);
        expect(difference(got, want), `${kind} ${shape}`).toBe('');
      }
  });

  it('marching-cubes scan, bit for bit, including empty, full and 1-voxel masks', async () => {
    const random = seededRandom(9);
    for (const shape of SHAPES)
      for (const p of [0, 0.3, 0.5, 1]) {
        const mask = Uint8Array.from({ length: voxels(shape) }, () => (random() < p ? 1 : 0));
        const want = await cpuKernels.marchingCubesScan(mask, shape),
          got = await g.marchingCubesScan(mask, shape);
        expect(got.cubes).toEqual(want.cubes);
        expect(difference(got.cases, want.cases), `${shape} ${p}`).toBe('');
        expect(difference(got.offsets, want.offsets), `${shape} ${p}`).toBe('');
      }
  });

  it('splits volumes larger than a binding into z slabs without seams', async () => {
    const g = (await gpuKernelsForTests({ maxBindingBytes: 2 << 20 }))!; // 2 MiB: many slabs below
    const shape: Vec3 = [256, 256, 72];
    const random = seededRandom(10);
    const n = voxels(shape);
    const image = Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
    const labels = Uint32Array.from({ length: n }, (_, i) => 2 ** 25 + ((i >> 5) % 7));
    const down: DownsampleInput = { data: image, shape, channels: 1, factor: [2, 2, 2], phase: [0, 0, 1] };
    expect(difference((await g.averageDownsample(down)) as Uint8Array, (await cpuKernels.averageDownsample(down)) as Uint8Array)).toBe('');
    const mode: DownsampleInput = { data: labels, shape, channels: 1, factor: [2, 2, 2] };
    expect(difference(await g.modeDownsample(mode), await cpuKernels.modeDownsample(mode))).toBe('');
    const aff = { labels, affinities: Float32Array.from({ length: 3 * n }, () => random()), shape };
    expect(difference(await g.boundaryAffinities(aff), await cpuKernels.boundaryAffinities(aff))).toBe('');
    const mask = Uint8Array.from(image, (v) => (v > 120 ? 1 : 0));
    const a = await g.marchingCubesScan(mask, shape),
      b = await cpuKernels.marchingCubesScan(mask, shape);
    expect(difference(a.offsets, b.offsets)).toBe('');
    expect(difference(a.cases, b.cases)).toBe('');
  });
});
