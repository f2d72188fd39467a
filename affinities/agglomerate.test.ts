import { describe, expect, it } from 'vitest';
import { seededRandom } from '../test/reference.js';
import { bruteForceAgglomeration } from '../test/reference-agglomeration.js';
import { agglomerate, decodeMapping, encodeMapping, GraphEdge } from './agglomerate.js';

const edge = (a: number, b: number, sum: number, count: number): GraphEdge => ({ a: BigInt(a), b: BigInt(b), sum, count });
/** Region id of every label 1..n under `mapping`. */
const regions = (mapping: Map<bigint, bigint>, n: number) => Array.from({ length: n }, (_, i) => Number(mapping.get(BigInt(i + 1)) ?? BigInt(i + 1)));

describe('mean-affinity agglomeration', () => {
  it('merges a chain strongest first, recomputing combined means, and stops below the threshold', () => {
    // 1-2 (0.9), 2-3 (0.7), 3-4 (0.95), and 1-3 (0.5 over 3 edges): after 3-4 and 1-2 merge,
    // {1,2}-{3,4} has (0.7 + 1.5) / 4 = 0.55.
    const edges = [edge(1, 2, 0.9, 1), edge(2, 3, 0.7, 1), edge(3, 4, 0.95, 1), edge(1, 3, 1.5, 3)];
    expect(regions(agglomerate(edges, 0.2).mapping, 4)).toEqual([1, 1, 3, 3]); // merges above 0.8
    expect(agglomerate(edges, 0.2).merges).toBe(2);
    expect(regions(agglomerate(edges, 0.46).mapping, 4)).toEqual([1, 1, 1, 1]); // 0.55 > 0.54
    expect(regions(agglomerate(edges, 0.44).mapping, 4)).toEqual([1, 1, 3, 3]); // 0.55 < 0.56
    expect(regions(agglomerate(edges, 0).mapping, 4)).toEqual([1, 2, 3, 4]);
    expect(regions(agglomerate(edges, 1).mapping, 4)).toEqual([1, 1, 1, 1]);
  });

  it('does not merge an edge whose mean is exactly 1 - t, and merges it just past', () => {
    const edges = [edge(5, 9, 1.5, 2)]; // mean 0.75 = 1 - 0.25 exactly
    expect(agglomerate(edges, 0.25).mapping.size).toBe(0);
    expect([...agglomerate(edges, 0.2500001).mapping]).toEqual([[9n, 5n]]);
    // 1 - 0.2 is a float64 a little below 0.8; a sum of 1.6 in units of 2^-32 a little above: exact comparison merges it.
    expect([...agglomerate([edge(5, 9, 1.6, 2)], 0.2).mapping]).toEqual([[9n, 5n]]);
  });

  it('breaks ties by the smaller labels, whatever the input order', () => {
    // 1-2, 3-4 and 2-3 all 0.9: 1-2 merges first, then {1,2}-3, then {1,2,3}-4 (combined means stay 0.9).
    const edges = [edge(3, 4, 0.9, 1), edge(2, 3, 0.9, 1), edge(1, 2, 0.9, 1)];
    const r = agglomerate(edges, 0.5);
    expect(regions(r.mapping, 4)).toEqual([1, 1, 1, 1]);
    expect(agglomerate([...edges].reverse(), 0.5).mapping).toEqual(r.mapping);
  });

  it("gives a combined edge the smaller of its parts' tie keys", () => {
    // 3-5 merges first; {3,5}-1 (0.5, parts 1-3 and 1-5) then ties 1-4 (0.5). Its key is (1,3), before
    // (1,4): 1 joins {3,5}, and {1,3,5}-4 is (0.5 + 0.1) / 2 = 0.3, below 0.45. (With the larger key,
    // (1,5), 1 would join 4 instead.)
    const edges = [edge(3, 5, 0.9, 1), edge(1, 3, 0.5, 1), edge(1, 5, 0.5, 1), edge(1, 4, 0.5, 1), edge(4, 5, 0.1, 1)];
    expect(regions(agglomerate(edges, 0.55).mapping, 5)).toEqual([1, 2, 1, 4, 1]);
  });

  it('compares means exactly: sums of float32 affinities in any order give one answer', () => {
    // 0.1 + 0.2 + 0.3 in float64 depends on the order; in units of 2^-32 it does not. Two edges whose
    // float64 sums differ in the last bit have equal exact means and tie: the smaller labels win.
    const f = (x: number) => Math.fround(x);
    const units = (xs: number[]) => xs.reduce((s, x) => s + Math.round(x * 2 ** 32), 0) / 2 ** 32;
    const a = units([f(0.1), f(0.2), f(0.3)]),
      b = units([f(0.3), f(0.2), f(0.1)]);
    expect(a).toBe(b);
    const edges = [edge(7, 8, b, 3), edge(1, 2, a, 3)];
    expect([...agglomerate(edges, 0.9).mapping]).toEqual([
      [2n, 1n],
      [8n, 7n],
    ]);
  });

  it('equals an independent brute-force agglomeration on random graphs', () => {
    const random = seededRandom(17);
    for (let trial = 0; trial < 300; trial++) {
      const n = 5 + Math.floor(random() * 30);
      const edges: GraphEdge[] = [];
      const seen = new Set<string>();
      for (let k = 0; k < 3 * n; k++) {
        const a = 1 + Math.floor(random() * n),
          b = 1 + Math.floor(random() * n);
        if (a === b || seen.has(`${Math.min(a, b)},${Math.max(a, b)}`)) continue;
        seen.add(`${Math.min(a, b)},${Math.max(a, b)}`);
        const kind = trial % 3;
        const count = 1 + Math.floor(random() * (kind === 2 ? 2 ** 20 : 5));
        // Sums in eighths (ties happen), in any units of 2^-32 (exact either way), or means on a
        // multiple of 2^-16 (the queue's bucket bounds), a unit of 2^-32 either side or on it.
        const sum =
          kind === 0
            ? (count * Math.floor(random() * 9)) / 8
            : kind === 1
              ? Math.floor(random() * count * 2 ** 32) / 2 ** 32
              : Math.max(0, (count * Math.floor(random() * 2 ** 16)) / 2 ** 16 + (Math.floor(random() * 3) - 1) / 2 ** 32);
        edges.push(edge(a + 2 ** 33, b + 2 ** 33, sum, count));
      }
      const exact = edges.map((e) => ({ a: e.a < e.b ? e.a : e.b, b: e.a < e.b ? e.b : e.a, units: BigInt(e.sum * 2 ** 32), count: BigInt(e.count) }));
      for (const t of [0, 0.1, 0.3, 0.5, 0.8, 1]) expect(agglomerate(edges, t).mapping, `trial ${trial} t ${t}`).toEqual(bruteForceAgglomeration(exact, t));
    }
  });

  it('refuses bad thresholds and malformed graphs', () => {
    expect(() => agglomerate([], 1.5)).toThrow('agglomeration threshold 1.5 is not in [0, 1]');
    expect(() => agglomerate([edge(1, 1, 1, 1)], 0.2)).toThrow('joins two different non-zero labels');
    expect(() => agglomerate([edge(1, 2, 1, 1), edge(2, 1, 1, 1)], 0.2)).toThrow('appears twice');
  });

  it('stores the mapping as sorted uint64 pairs and reads it back, refusing a torn file', () => {
    const mapping = new Map([
      [2n ** 64n - 1n, 3n],
      [7n, 5n],
      [2n ** 40n, 7n],
    ]);
    const bytes = encodeMapping(mapping);
    expect(bytes.length).toBe(48);
    expect(new BigUint64Array(bytes.buffer)[0]).toBe(7n);
    expect(decodeMapping(bytes, 'm')).toEqual(mapping);
    expect(() => decodeMapping(bytes.subarray(0, 40), 'm')).toThrow('m: 40 bytes is not a whole number of (label, id) uint64 pairs');
  });
});
