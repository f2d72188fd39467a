// The WebAssembly inflate (assembly/inflate.ts) against node:zlib: streams zlib writes at every level
// and strategy (stored, fixed and dynamic blocks, codes up to 15 bits, matches of every length and
// distance), digest's own Huffman-only and stored gzips, and corrupt, truncated, oversized or unusual
// gzips, where gunzip's outcome (the bytes or the error) must be zlib's.
import { constants, deflateRawSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../test/reference.js';
import { inflateInMemory, wasmKernels } from '../wasm/kernels.js';
import { gunzip, gunzipWithZlib, gzip } from './gzip.js';

const w = wasmKernels()!;

/** Data of a few kinds: noise, runs, repeats near and far, a small alphabet, skewed frequencies. */
function sample(kind: number, n: number, r: () => number): Uint8Array {
  const d = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (kind === 0) d[i] = r() * 256;
    else if (kind === 1) d[i] = (i >> 6) & 255;
    else if (kind === 2) d[i] = i > 0 && r() < 0.9 ? d[Math.max(0, i - 1 - Math.floor(r() * (r() < 0.5 ? 8 : 30000)))] : r() * 256;
    else if (kind === 3) d[i] = 7;
    else if (kind === 4) d[i] = (i * 31 + (i >> 10)) & 15;
    else d[i] = Math.min(255, Math.floor(-Math.log2(r() + 1e-9) * 4)); // code lengths up to 15 bits
  }
  return d;
}

const STRATEGIES = [constants.Z_DEFAULT_STRATEGY, constants.Z_FILTERED, constants.Z_HUFFMAN_ONLY, constants.Z_RLE, constants.Z_FIXED];

const same = (a: Uint8Array | null, b: Uint8Array) =>
  a !== null && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('inflate in WebAssembly', () => {
  it('runs here', () => expect(w).not.toBeNull());

  it('inflates what zlib deflates, at every level and strategy', () => {
    const r = seededRandom(11);
    let trials = 0;
    for (const n of [0, 1, 2, 3, 257, 258, 259, 32767, 32768, 32769, 65535, 65536, 70000, 300000]) {
      for (let kind = 0; kind < 6; kind++) {
        const data = sample(kind, n, r);
        const level = trials % 10;
        const strategy = STRATEGIES[trials % STRATEGIES.length];
        const memLevel = 1 + (trials % 9);
        const raw = deflateRawSync(data, { level, strategy, memLevel });
        expect(same(inflateInMemory(w, raw, n), data), `n ${n} kind ${kind} level ${level} strategy ${strategy}`).toBe(true);
        trials++;
      }
    }
  });

  it('inflates random sizes and mixes, and refuses a stated size other than the stream makes', () => {
    const r = seededRandom(5);
    for (let t = 0; t < 150; t++) {
      const n = Math.floor(r() ** 2 * 200000);
      const data = sample(t % 6, n, r);
      const raw = deflateRawSync(data, { level: t % 10, strategy: STRATEGIES[t % 5] });
      expect(same(inflateInMemory(w, raw, n), data), `trial ${t}`).toBe(true);
      if (n > 0) expect(inflateInMemory(w, raw, n - 1), `trial ${t}: one byte short`).toBeNull();
      expect(inflateInMemory(w, raw, n + 1), `trial ${t}: one byte long`).toBeNull();
    }
  });

  it("inflates digest's own gzips: Huffman-only, level 4, stored blocks", () => {
    const r = seededRandom(9);
    for (const [data, options] of [
      [sample(2, 262144, r), { level: 6, strategy: 'huffman' }],
      [sample(5, 100000, r), { level: 6, strategy: 'huffman' }],
      [sample(2, 100000, r), { level: 4, strategy: 'default' }],
      [sample(0, 200000, r), { level: 6, strategy: 'huffman' }], // noise: stored blocks
    ] as const) {
      const zipped = gzip(data, options);
      expect(same(inflateInMemory(w, zipped.subarray(10, zipped.length - 8), data.length), data)).toBe(true);
      expect(same(gunzip(zipped, 'test', data.length), data)).toBe(true);
    }
  });
});

describe('gunzip: the outcome is zlib’s', () => {
  const outcome = (f: () => Uint8Array) => {
    try {
      return Buffer.from(f()).toString('hex');
    } catch (e) {
      return (e as Error).message;
    }
  };

  it('on corrupt, truncated and extended gzips', () => {
    const r = seededRandom(21);
    let errors = 0;
    for (let t = 0; t < 400; t++) {
      const data = sample(t % 6, 200 + Math.floor(r() * 5000), r);
      const good = gzipSync(data, { level: 1 + (t % 9), strategy: STRATEGIES[t % 5] });
      let bad = Uint8Array.from(good);
      const how = t % 4;
      if (how === 0) bad[Math.floor(r() * bad.length)] ^= 1 << Math.floor(r() * 8);
      else if (how === 1) bad = bad.subarray(0, Math.floor(r() * bad.length));
      else if (how === 2) bad[10 + Math.floor(r() * (bad.length - 18))] = r() * 256;
      else bad = Uint8Array.from([...bad, ...sample(0, 1 + (t % 5), r)]);
      const maxBytes = t % 7 === 0 ? data.length - 1 : data.length;
      const zlib = outcome(() => gunzipWithZlib(bad, 'chunk', maxBytes));
      expect(
        outcome(() => gunzip(bad, 'chunk', maxBytes)),
        `trial ${t} (${how})`,
      ).toBe(zlib);
      if (!/^[0-9a-f]*$/.test(zlib)) errors++;
    }
    expect(errors).toBeGreaterThan(200); // the corruptions reach zlib's errors
  });

  it('on a trailer that states the wrong size or checksum, a name in the header, two members, and a size past maxBytes', () => {
    const data = sample(2, 50000, seededRandom(4));
    const good = gzipSync(data);
    const wrongSize = Uint8Array.from(good);
    wrongSize[good.length - 4] ^= 1;
    const wrongCrc = Uint8Array.from(good);
    wrongCrc[good.length - 8] ^= 1;
    const named = Uint8Array.from([...good.subarray(0, 10), ...Buffer.from('chunk.raw\0'), ...good.subarray(10)]);
    named[3] |= 8; // FNAME
    const extra = Uint8Array.from([...good.subarray(0, 10), 4, 0, 1, 2, 3, 4, ...good.subarray(10)]);
    extra[3] |= 4; // FEXTRA: node:zlib's path
    const twoMembers = Uint8Array.from([...good, ...gzipSync(data.subarray(0, 100))]);
    for (const [name, bytes, maxBytes] of [
      ['wrong size', wrongSize, undefined],
      ['wrong checksum', wrongCrc, undefined],
      ['a name', named, undefined],
      ['an extra field', extra, undefined],
      ['two members', twoMembers, undefined],
      ['past maxBytes', good, data.length - 1],
      ['at maxBytes', good, data.length],
    ] as const) {
      expect(
        outcome(() => gunzip(bytes, 'chunk', maxBytes)),
        name,
      ).toBe(outcome(() => gunzipWithZlib(bytes, 'chunk', maxBytes)));
    }
    expect(same(gunzip(named, 'chunk'), data)).toBe(true);
    expect(outcome(() => gunzip(wrongCrc, 'chunk'))).toMatch(/chunk: corrupt gzip data/);
    expect(outcome(() => gunzip(good, 'chunk', data.length - 1))).toMatch(/inflates to more than the 49999 bytes expected/);
  });
});
