import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CorruptData } from '../common/errors.js';
import { seededRandom } from '../test/reference.js';
import { decodeNames, decodeRegionGraph, emptyEdges, emptyRegions, encodeNames, encodeRegionGraph, RegionGraph } from './region-graph.js';

function randomGraph(random: () => number, kind: 'chunk' | 'block', edges: number, regions: number): RegionGraph {
  const g: RegionGraph = { kind, edges: emptyEdges(edges), regions: emptyRegions(regions) };
  for (let i = 0; i < edges; i++) {
    g.edges.a[i] = BigInt(i + 1) << 40n;
    g.edges.b[i] = (BigInt(i + 1) << 40n) + 1n + BigInt(Math.floor(random() * 1000));
    g.edges.count[i] = 1 + Math.floor(random() * 100);
    g.edges.whole[i] = Math.floor(random() * g.edges.count[i]);
    g.edges.fraction[i] = Math.floor(random() * 2 ** 32);
    g.edges.tieA[i] = kind === 'block' ? 1n + BigInt(i) : g.edges.a[i];
    g.edges.tieB[i] = kind === 'block' ? 2n ** 64n - 1n : g.edges.b[i];
  }
  for (let i = 0; i < regions; i++) {
    g.regions.label[i] = BigInt(3 * i + 1);
    g.regions.faces[i] = Math.floor(random() * 64);
    g.regions.inside[i] = kind === 'block' ? 1 : random() < 0.5 ? 1 : 0;
  }
  return g;
}

/** The bytes with a fresh checksum: what a writer with this bug would have written. */
function resealed(bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  new DataView(out.buffer).setUint32(48, crc32(out.subarray(64)), true);
  return out;
}

describe('binary region graph', () => {
  it('reads back what it writes, 40 bytes an edge in chunk graphs and 56 in block graphs', () => {
    const random = seededRandom(5);
    for (const kind of ['chunk', 'block'] as const) {
      const g = randomGraph(random, kind, 200, 50);
      const bytes = encodeRegionGraph(g);
      expect(bytes.length).toBe(64 + (kind === 'chunk' ? 40 : 56) * 200 + 16 * 50);
      expect(decodeRegionGraph(bytes, 'g', kind)).toEqual(g);
      // At any offset (a view into a larger buffer).
      const shifted = new Uint8Array(bytes.length + 3);
      shifted.set(bytes, 3);
      expect(decodeRegionGraph(shifted.subarray(3), 'g')).toEqual(g);
    }
    expect(decodeRegionGraph(encodeRegionGraph(randomGraph(random, 'chunk', 0, 0)), 'empty').edges.length).toBe(0);
  });

  it('refuses torn, altered, unsorted or impossible files as CorruptData naming the file', () => {
    const random = seededRandom(9);
    const g = randomGraph(random, 'chunk', 20, 10);
    const bytes = encodeRegionGraph(g);
    const refuse = (b: Uint8Array, why: string | RegExp) => {
      expect(() => decodeRegionGraph(b, 'mem://l/mean_graph/chunks/x.graph')).toThrow(CorruptData);
      expect(() => decodeRegionGraph(b, 'mem://l/mean_graph/chunks/x.graph')).toThrow(why);
    };
    refuse(bytes.subarray(0, 40), 'mem://l/mean_graph/chunks/x.graph: 40 bytes, shorter than the 64-byte region graph header');
    refuse(bytes.subarray(0, bytes.length - 8), /the header lists 20 edges and 10 regions \(1024 bytes\), the file has 1016 bytes/);
    const altered = Uint8Array.from(bytes);
    altered[100] ^= 1;
    refuse(altered, 'checksum mismatch (torn or altered file)');
    refuse(new TextEncoder().encode('{"edges":[]}'.padEnd(64)), 'not a region graph (no DGRG magic)');
    expect(() => decodeRegionGraph(bytes, 'f', 'block')).toThrow('f: a chunk graph where a block graph belongs');

    const swapped = structuredClone(g);
    [swapped.edges.a[3], swapped.edges.a[4]] = [g.edges.a[4], g.edges.a[3]];
    [swapped.edges.b[3], swapped.edges.b[4]] = [g.edges.b[4], g.edges.b[3]];
    refuse(encodeRegionGraph(swapped), /edge 4 \(\d+, \d+\) is out of \(a, b\) order/);
    const tooMuch = structuredClone(g);
    tooMuch.edges.whole[2] = tooMuch.edges.count[2];
    tooMuch.edges.fraction[2] = 1;
    refuse(encodeRegionGraph(tooMuch), /edge 2 has sum \d+ \+ 1\/2\^32 over \d+ voxel edges; affinities are in \[0, 1\]/);
    const background = structuredClone(g);
    background.regions.label[0] = 0n;
    refuse(encodeRegionGraph(background), 'region 0 is label 0');
    const flags = encodeRegionGraph(g);
    new DataView(flags.buffer).setUint32(64 + 40 * 20 + 8, 0x200, true);
    refuse(resealed(flags), 'region 0 has flags 512; only bits 0-5 and 8 are defined');
    const counts = Uint8Array.from(bytes);
    new DataView(counts.buffer).setBigUint64(16, 2n ** 60n, true);
    refuse(counts, /the header lists 1152921504606846976 edges/);
  });

  it('keeps name tables per child, refusing a name above its label or a torn table', () => {
    const sections = [
      { key: 7n, from: BigUint64Array.of(3n, 9n, 2n ** 63n), to: BigUint64Array.of(3n, 3n, 5n) },
      { key: 0n, from: new BigUint64Array(0), to: new BigUint64Array(0) },
    ];
    const bytes = encodeNames(sections);
    expect(decodeNames(bytes, 'n')).toEqual(sections);
    expect(() => decodeNames(bytes.subarray(0, bytes.length - 16), 'n')).toThrow(/n: the header lists 2 sections and 3 pairs/);
    expect(() => decodeNames(encodeNames([{ key: 1n, from: BigUint64Array.of(3n), to: BigUint64Array.of(4n) }]), 'n')).toThrow(
      'n: section 0 pair 0 names 3 -> 4; a region is named by its smallest label',
    );
    const altered = Uint8Array.from(bytes);
    altered[40] ^= 4;
    expect(() => decodeNames(altered, 'n')).toThrow('n: checksum mismatch');
  });
});
