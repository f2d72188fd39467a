// The WebAssembly kernels against the readable JS loops (and the brute-force reference), on random
// and edge inputs: odd sizes, 1-voxel volumes, every dtype, channels, labels near 2^64, ties.
import { describe, expect, it } from 'vitest';
import { Vec3 } from '../common/box.js';
import { TypedArray } from '../common/dtype.js';
import { referenceDownsample, seededRandom } from '../test/reference.js';
import { averageDownsample, modeDownsample } from './downsample.js';
import { wasmKernels } from '../wasm/kernels.js';

const shapes: Vec3[] = [
  [64, 64, 64],
  [33, 17, 9],
  [1, 1, 1],
  [2, 2, 2],
  [3, 1, 5],
  [31, 2, 1],
  [48, 40, 3],
];
const factors: Vec3[] = [
  [2, 2, 2],
  [2, 2, 1],
];

function randomData(kind: string, n: number, seed: number): TypedArray {
  const r = seededRandom(seed);
  switch (kind) {
    case 'uint8':
      return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
    case 'uint16':
      return Uint16Array.from({ length: n }, () => Math.floor(r() * 65536));
    case 'float32':
      return Float32Array.from({ length: n }, () => (r() - 0.3) * 1e3);
    case 'uint32':
      return Uint32Array.from({ length: n }, () => Math.floor(r() * 4)); // few labels: ties
    default: {
      // uint64 cells near 2^64 with some noise, so both fast paths and the general one run.
      const out = new BigUint64Array(n);
      for (let i = 0; i < n; i++) out[i] = r() < 0.8 ? 0xffff_ffff_ffff_fff0n + BigInt(Math.floor(i / 37) % 4) : BigInt(Math.floor(r() * 2 ** 32)) << 32n;
      return out;
    }
  }
}

describe('WebAssembly downsampling kernels', () => {
  it('are available here', () => expect(wasmKernels()).not.toBeNull());

  for (const kind of ['uint8', 'uint16', 'float32', 'uint32', 'uint64']) {
    it(`equal the JS loops for ${kind} on odd shapes, both factors, channels and phases`, () => {
      let seed = 1;
      for (const shape of shapes)
        for (const factor of factors)
          for (const channels of [1, 2])
            for (const phase of [
              [0, 0, 0],
              [1, 0, factor[2] - 1],
            ] as Vec3[]) {
              const data = randomData(kind, shape[0] * shape[1] * shape[2] * channels, seed++);
              const input = { data, shape, channels, factor, phase };
              const image = kind === 'uint8' || kind === 'uint16' || kind === 'float32';
              const fast = image ? averageDownsample(input) : modeDownsample(input);
              const js = image ? averageDownsample(input, { jsOnly: true }) : modeDownsample(input, { jsOnly: true });
              expect(Buffer.from(fast.buffer).equals(Buffer.from(js.buffer)), `${kind} [${shape}] f[${factor}] c${channels} p[${phase}]`).toBe(true);
              if (shape[0] <= 33 && channels === 1) {
                const ref = referenceDownsample(
                  data as ArrayLike<number | bigint>,
                  shape,
                  channels,
                  factor,
                  phase,
                  image ? (kind === 'float32' ? 'float-mean' : 'mean') : 'mode',
                );
                expect(Array.from(fast as ArrayLike<number | bigint>)).toEqual(ref);
              }
            }
    });
  }
});
