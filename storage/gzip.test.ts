// The Huffman-only gzip encoder (assembly/deflate.ts) against node:zlib's decoder: inputs of every
// size class, one symbol, all 256, block boundaries, and frequencies skewed enough that unlimited
// Huffman codes would pass the format's 15 bits.
import { gunzipSync, gzipSync, constants } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../test/reference.js';
import { wasmKernels } from '../wasm/kernels.js';
import { randomBytes } from 'node:crypto';
import { gunzip, gzip, gzipBound, GzipOptions, storedGzipBytes } from './gzip.js';

const huffman = { level: 6, strategy: 'huffman' } as const;

function fibonacciSkewed(): Uint8Array {
  // Symbol k appears fib(k) times: an optimal code would give the rarest symbols 25 bits.
  const counts = [1, 1];
  while (counts.length < 26) counts.push(counts.at(-1)! + counts.at(-2)!);
  const out = new Uint8Array(counts.reduce((a, b) => a + b, 0));
  let at = 0;
  counts.forEach((c, symbol) => {
    out.fill(symbol * 7, at, at + c);
    at += c;
  });
  const r = seededRandom(3);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe('Huffman-only gzip', () => {
  it('runs in WebAssembly here', () => expect(wasmKernels()).not.toBeNull());

  const r = seededRandom(11);
  const noise = (n: number) => Uint8Array.from({ length: n }, () => Math.min(255, Math.floor(-Math.log(1 - r()) * 40)));
  const cases: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['one byte', new Uint8Array([42])],
    ['one symbol repeated', new Uint8Array(100_000).fill(7)],
    ['two symbols', Uint8Array.from({ length: 5000 }, (_, i) => (i % 3 ? 1 : 200))],
    ['all 256 symbols uniformly', Uint8Array.from({ length: 70_000 }, (_, i) => (i * 131) & 255)],
    ['noise across block boundaries', noise(3 * 32_768 + 5)],
    ['exactly one block', noise(32_768)],
    ['frequencies that need length limiting', fibonacciSkewed()],
  ];
  for (const [name, data] of cases) {
    it(`round-trips through node:zlib: ${name}`, () => {
      const zipped = gzip(data, huffman);
      expect(Buffer.from(gunzipSync(zipped)).equals(Buffer.from(data))).toBe(true);
      if (data.length > 10_000) {
        // About what zlib's own Huffman-only mode reaches (each block's code fits its stretch).
        const zlib = gzipSync(data, { strategy: constants.Z_HUFFMAN_ONLY }).length;
        expect(zipped.length).toBeLessThan(zlib * 1.02 + 64);
      }
    });
  }
});

describe('gzip of data that coding cannot shrink', () => {
  // Uniform random bytes (crypto-strength) and a random tail on a constant head: every encoder and
  // strategy digest writes with must stay within gzipBound, which every reader enforces.
  const random = (n: number) => new Uint8Array(randomBytes(n));
  const inputs: [string, Uint8Array][] = [
    ['a random 64^3 uint8 chunk', random(262_144)],
    ['random bytes of an odd size', random(200_003)],
    ['a constant half, then random', Uint8Array.from([...new Uint8Array(100_000), ...random(100_000)])],
    ['one random byte', random(1)],
    ['empty', new Uint8Array(0)],
  ];
  const options: GzipOptions[] = [
    huffman,
    { level: 6, strategy: 'default' },
    { level: 1, strategy: 'rle' },
    { level: 9, strategy: 'default' },
    { level: 4, strategy: 'default' },
  ];
  for (const [name, data] of inputs)
    for (const o of options) {
      it(`${name}, ${o.strategy} level ${o.level}: no larger than stored blocks and read back by node:zlib`, () => {
        const zipped = gzip(data, o);
        expect(zipped.length).toBeLessThanOrEqual(storedGzipBytes(data.length));
        expect(storedGzipBytes(data.length)).toBeLessThanOrEqual(gzipBound(data.length));
        expect(Buffer.from(gunzipSync(zipped)).equals(Buffer.from(data))).toBe(true);
        expect(Buffer.from(gunzip(zipped, 'test', data.length)).equals(Buffer.from(data))).toBe(true);
      });
    }
  it('stores random data in stored blocks: header, blocks of 64 KiB with 5 bytes each, trailer', () => {
    const data = random(262_144);
    expect(gzip(data, huffman).length).toBe(10 + 262_144 + 5 * 5 + 8);
  });
});
