import { describe, expect, it } from 'vitest';
import { Vec3 } from '../common/box.js';
import { seededRandom } from '../test/reference.js';
import { watershed, WatershedParams } from './watershed.js';

const NO_MERGE: WatershedParams = { high: 1, low: 0.1, mergeThreshold: 1, mergeSize: 0, dustSize: 0 };

/** Affinities along a row of voxels: x-edges `e` (e[x] joins x-1 and x; e[0] unused), no y/z edges. */
function row(e: number[]): { affinities: Float32Array; shape: Vec3 } {
  const n = e.length;
  const affinities = new Float32Array(3 * n);
  e.forEach((a, x) => {
    if (x > 0) affinities[x] = a;
  });
  return { affinities, shape: [n, 1, 1] };
}

/** Affinities from a label function: `inside` between equal non-zero labels, `across` between different ones. */
function fromLabels(shape: Vec3, label: (x: number, y: number, z: number) => number, inside: number, across: number): Float32Array {
  const [sx, sy, sz] = shape;
  const n = sx * sy * sz;
  const out = new Float32Array(3 * n);
  for (let z = 0; z < sz; z++)
    for (let y = 0; y < sy; y++)
      for (let x = 0; x < sx; x++) {
        const v = x + sx * (y + sy * z),
          l = label(x, y, z);
        [
          [x - 1, y, z],
          [x, y - 1, z],
          [x, y, z - 1],
        ].forEach(([px, py, pz], c) => {
          if (px < 0 || py < 0 || pz < 0) return;
          const m = label(px, py, pz);
          out[c * n + v] = l && m ? (l === m ? inside : across) : 0;
        });
      }
  return out;
}

const f32 = (values: number[]) => Array.from(Float32Array.from(values));

describe('watershed', () => {
  it('follows steepest ascent to two maxima, the second a plateau, and splits at the valley', () => {
    // m per voxel: .5 .7 .9 .9 .6 .65 .8 .8 .8 .3 -> cores {2,3} and {6,7,8}; the valley edge is e[5] = .4.
    const { affinities, shape } = row(f32([0, 0.5, 0.7, 0.9, 0.6, 0.4, 0.65, 0.8, 0.8, 0.3]));
    expect(Array.from(watershed(affinities, shape, NO_MERGE).labels)).toEqual([1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    // Merging across the valley needs merge_threshold <= .4 and a region below merge_size.
    expect(Array.from(watershed(affinities, shape, { ...NO_MERGE, mergeThreshold: 0.41, mergeSize: 100 }).labels)).toEqual([1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    expect(Array.from(watershed(affinities, shape, { ...NO_MERGE, mergeThreshold: Math.fround(0.4), mergeSize: 100 }).labels)).toEqual([
      1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ]);
  });

  it('ignores edges at or below low_threshold: a voxel with no stronger edge stays 0', () => {
    const { affinities, shape } = row(f32([0, 0.5, 0.7, 0.9, 0.6, 0.4, 0.65, 0.8, 0.8, 0.3]));
    expect(watershed(affinities, shape, { ...NO_MERGE, low: Math.fround(0.3) }).labels[9]).toBe(0); // m = .3 is not above low
    expect(watershed(affinities, shape, { ...NO_MERGE, low: 0.29 }).labels[9]).toBe(2);
    expect(Array.from(watershed(affinities, shape, { ...NO_MERGE, low: 0.95 }).labels)).toEqual(new Array(10).fill(0));
  });

  it('joins unconditionally across edges at or above high_threshold', () => {
    // Two maxima (.99) with a .95 valley between: split below high, joined once .95 >= high.
    const { affinities, shape } = row(f32([0, 0.99, 0.95, 0.99]));
    expect(Array.from(watershed(affinities, shape, NO_MERGE).labels)).toEqual([1, 1, 2, 2]);
    expect(Array.from(watershed(affinities, shape, { ...NO_MERGE, high: 0.951 }).labels)).toEqual([1, 1, 2, 2]);
    expect(Array.from(watershed(affinities, shape, { ...NO_MERGE, high: Math.fround(0.95) }).labels)).toEqual([1, 1, 1, 1]);
  });

  it('drains a plateau with an exit through it: one basin', () => {
    // .95 plateau (voxels 0-2) whose right end has a one-way edge up to .96.
    const { affinities, shape } = row(f32([0, 0.95, 0.95, 0.96, 0.96]));
    expect(Array.from(watershed(affinities, shape, NO_MERGE).labels)).toEqual([1, 1, 1, 1, 1]);
  });

  it('separates two cubes joined by a weak face, merges them by size, and removes dust', () => {
    const shape: Vec3 = [14, 6, 6];
    // Cube A x 0..5, cube B x 6..11, a 2x2x2 speck at x 12..13 (y, z < 2), nothing else.
    const label = (x: number, y: number, z: number) => (x < 6 ? 1 : x < 12 ? 2 : y < 2 && z < 2 ? 3 : 0);
    const affinities = fromLabels(shape, label, 0.9, 0.3);
    // The speck touches B with .3 edges, so zero those to keep it apart.
    for (let z = 0; z < 2; z++) for (let y = 0; y < 2; y++) affinities[12 + 14 * (y + 6 * z)] = 0;
    const regions = (p: Partial<WatershedParams>) => {
      const { labels } = watershed(affinities, shape, { ...NO_MERGE, ...p });
      const at = (x: number, y: number, z: number) => labels[x + 14 * (y + 6 * z)];
      return [at(0, 0, 0), at(11, 5, 5), at(13, 1, 1), at(13, 5, 5)];
    };
    expect(regions({})).toEqual([1, 2, 3, 0]);
    expect(regions({ mergeThreshold: 0.31 })).toEqual([1, 2, 3, 0]); // the face (.3) is below merge_threshold
    expect(regions({ mergeThreshold: Math.fround(0.3), mergeSize: 216 })).toEqual([1, 2, 3, 0]); // both cubes hold 216 voxels
    expect(regions({ mergeThreshold: Math.fround(0.3), mergeSize: 217 })).toEqual([1, 1, 2, 0]);
    expect(regions({ dustSize: 8 })).toEqual([1, 2, 3, 0]);
    expect(regions({ dustSize: 9 })).toEqual([1, 2, 0, 0]);
    expect(regions({ dustSize: 217 })).toEqual([0, 0, 0, 0]);
  });

  it('gives every labelled voxel an edge above low, and numbers regions 1..n by first voxel', () => {
    const random = seededRandom(11);
    const shape: Vec3 = [13, 11, 9];
    const n = 13 * 11 * 9;
    const affinities = Float32Array.from({ length: 3 * n }, () => Math.round(random() * 20) / 20); // many ties
    const params = { high: 0.9, low: 0.2, mergeThreshold: 0.6, mergeSize: 20, dustSize: 3 };
    const { labels, count } = watershed(affinities, shape, params);
    expect(Array.from(watershed(affinities, shape, params).labels)).toEqual(Array.from(labels));
    let next = 1;
    const sizes = new Map<number, number>();
    for (let v = 0; v < n; v++) {
      const l = labels[v];
      if (!l) continue;
      if (!sizes.has(l)) expect(l).toBe(next++);
      sizes.set(l, (sizes.get(l) ?? 0) + 1);
      const [x, y, z] = [v % 13, Math.floor(v / 13) % 11, Math.floor(v / 143)];
      const incident = [
        x > 0 ? affinities[v] : 0,
        y > 0 ? affinities[n + v] : 0,
        z > 0 ? affinities[2 * n + v] : 0,
        x < 12 ? affinities[v + 1] : 0,
        y < 10 ? affinities[n + v + 13] : 0,
        z < 8 ? affinities[2 * n + v + 143] : 0,
      ];
      expect(Math.max(...incident)).toBeGreaterThan(params.low);
    }
    expect(count).toBe(next - 1);
    for (const size of sizes.values()) expect(size).toBeGreaterThanOrEqual(params.dustSize);
  });
});
