import { describe, expect, it } from 'vitest';
import { seededRandom } from '../test/reference.js';
import { agglomerate, decodeMapping, encodeMapping } from './agglomerate.js';
import { GraphEdge } from './mean-graph.js';

const edge = (a: number, b: number, sum: number, count: number): GraphEdge => ({ a: BigInt(a), b: BigInt(b), sum, count });
/** Region id of every label 1..n under `mapping`. */
const regions = (mapping: Map<bigint, bigint>, n: number) => Array.from({ length: n }, (_, i) => Number(mapping.get(BigInt(i + 1)) ?? BigInt(i + 1)));

/**
 * Independent reference: regions as sets of labels; each step recomputes, from the original edges,
 * the mean between every pair of touching regions, merges the best (highest mean, then smaller
 * region ids) while it is above 1 - t, names each region by its smallest label.
 */
function bruteForce(edges: GraphEdge[], t: number): Map<bigint, bigint> {
  const regionOf = new Map<bigint, bigint>();
  const labels = new Set(edges.flatMap((e) => [e.a, e.b]));
  for (const l of labels) regionOf.set(l, l);
  for (;;) {
    const between = new Map<string, { a: bigint; b: bigint; sum: number; count: number }>();
    for (const e of edges) {
      const [ra, rb] = [regionOf.get(e.a)!, regionOf.get(e.b)!];
      if (ra === rb) continue;
      const [a, b] = ra < rb ? [ra, rb] : [rb, ra];
      const k = `${a},${b}`;
      const x = between.get(k) ?? { a, b, sum: 0, count: 0 };
      x.sum += e.sum;
      x.count += e.count;
      between.set(k, x);
    }
    let best: { a: bigint; b: bigint; mean: number } | undefined;
    for (const x of between.values()) {
      const mean = x.sum / x.count;
      if (!best || mean > best.mean || (mean === best.mean && (x.a < best.a || (x.a === best.a && x.b < best.b)))) best = { a: x.a, b: x.b, mean };
    }
    if (!best || !(best.mean > 1 - t)) break;
    for (const [l, r] of regionOf) if (r === best.b) regionOf.set(l, best.a);
  }
  return new Map([...regionOf].filter(([l, r]) => l !== r));
}

describe('mean-affinity agglomeration', () => {
  it('merges a chain strongest first, recomputing combined means, and stops below the threshold', () => {
    // 1-2 (0.9), 2-3 (0.7), 3-4 (0.95), and 1-3 (0.5 over 3 edges): after 3-4 and 1-2 merge,
    // {1,2}-{3,4} has (0.7 + 1.5) / 4 = 0.55.
    const edges = [edge(1, 2, 0.9, 1), edge(2, 3, 0.7, 1), edge(3, 4, 0.95, 1), edge(1, 3, 1.5, 3)];
    expect(regions(agglomerate(edges, 0.2).mapping, 4)).toEqual([1, 1, 3, 3]); // merges above 0.8
    expect(agglomerate(edges, 0.2).mergeMeans).toEqual([0.95, 0.9]);
    expect(regions(agglomerate(edges, 0.46).mapping, 4)).toEqual([1, 1, 1, 1]); // 0.55 > 0.54
    expect(regions(agglomerate(edges, 0.44).mapping, 4)).toEqual([1, 1, 3, 3]); // 0.55 < 0.56
    expect(regions(agglomerate(edges, 0).mapping, 4)).toEqual([1, 2, 3, 4]);
    expect(regions(agglomerate(edges, 1).mapping, 4)).toEqual([1, 1, 1, 1]);
  });

  it('does not merge an edge whose mean is exactly 1 - t, and merges it just past', () => {
    const edges = [edge(5, 9, 1.6, 2)]; // mean 0.8 = 1 - 0.2 in float64
    expect(1 - 0.2).toBe(1.6 / 2);
    expect(agglomerate(edges, 0.2).mapping.size).toBe(0);
    expect([...agglomerate(edges, 0.2000001).mapping]).toEqual([[9n, 5n]]);
  });

  it('breaks ties by the smaller labels, whatever the input order', () => {
    // 1-2, 3-4 and 2-3 all 0.9: 1-2 merges first, then {1,2}-3, then {1,2,3}-4 (combined means stay 0.9).
    const edges = [edge(3, 4, 0.9, 1), edge(2, 3, 0.9, 1), edge(1, 2, 0.9, 1)];
    const r = agglomerate(edges, 0.5);
    expect(regions(r.mapping, 4)).toEqual([1, 1, 1, 1]);
    expect(agglomerate([...edges].reverse(), 0.5).mapping).toEqual(r.mapping);
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
        const count = 1 + Math.floor(random() * 5);
        // Affinities in eighths, so that ties happen and every sum is exact in float64 whatever the
        // order of the additions (the brute force adds them in another order than the heap).
        edges.push(edge(a + 2 ** 33, b + 2 ** 33, (count * Math.floor(random() * 9)) / 8, count));
      }
      for (const t of [0.1, 0.3, 0.5, 0.8]) expect(agglomerate(edges, t).mapping, `trial ${trial} t ${t}`).toEqual(bruteForce(edges, t));
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
