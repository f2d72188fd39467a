// Blockwise agglomeration equals the single-task one and an independent brute force, exactly: on
// random segmentations (random boxes, some joined into one label, some background) with random
// affinities (eighths, so that means tie, or any float32), chunk graphs made by the MeanGraph kernel,
// every block size and threshold; mapping values compared byte for byte.
import { describe, expect, it } from 'vitest';
import { box, Box, copyRegion, intersect, Vec3 } from '../common/box.js';
import { seededRandom } from '../test/reference.js';
import { bruteForceAgglomeration, voxelEdges } from '../test/reference-agglomeration.js';
import { encodeMapping } from './agglomerate.js';
import { agglomerateTree, BlockTree, cellKey, rootLevel } from './block-tree.js';
import { chunkGraphs } from './mean-graph.js';
import { decodeRegionGraph, encodeRegionGraph, RegionGraph } from './region-graph.js';

interface Volume {
  size: Vec3;
  labels: BigUint64Array;
  affinities: Float32Array;
}

/** Boxes 1-4 voxels a side; each a new label, background, or its -x/-y/-z neighbour's label (so labels stay connected). */
function randomVolume(random: () => number, size: Vec3, eighths: boolean): Volume {
  const cuts = size.map((s) => {
    const at = [0];
    while (at[at.length - 1] < s) at.push(Math.min(s, at[at.length - 1] + 1 + Math.floor(random() * 4)));
    return at;
  });
  const cellGrid = cuts.map((c) => c.length - 1);
  const cellLabel = new Array<bigint>(cellGrid[0] * cellGrid[1] * cellGrid[2]);
  const used = new Set<bigint>();
  const fresh = () => {
    for (;;) {
      // Labels spread over the uint64 range, unrelated to position.
      const l = (BigInt(Math.floor(random() * 2 ** 30)) << 34n) + BigInt(Math.floor(random() * 1000)) + 1n;
      if (!used.has(l)) return (used.add(l), l);
    }
  };
  for (let z = 0; z < cellGrid[2]; z++)
    for (let y = 0; y < cellGrid[1]; y++)
      for (let x = 0; x < cellGrid[0]; x++) {
        const i = x + cellGrid[0] * (y + cellGrid[1] * z);
        const r = random();
        const neighbours = [x > 0 ? i - 1 : -1, y > 0 ? i - cellGrid[0] : -1, z > 0 ? i - cellGrid[0] * cellGrid[1] : -1].filter(
          (j) => j >= 0 && cellLabel[j] !== 0n,
        );
        if (r < 0.1) cellLabel[i] = 0n;
        else if (r < 0.4 && neighbours.length) cellLabel[i] = cellLabel[neighbours[Math.floor(random() * neighbours.length)]];
        else cellLabel[i] = fresh();
      }
  const [sx, sy, sz] = size;
  const labels = new BigUint64Array(sx * sy * sz);
  const cellOf = (d: number, v: number) => cuts[d].findIndex((c, k) => v >= c && v < cuts[d][k + 1]);
  for (let z = 0; z < sz; z++)
    for (let y = 0; y < sy; y++)
      for (let x = 0; x < sx; x++) labels[x + sx * (y + sy * z)] = cellLabel[cellOf(0, x) + cellGrid[0] * (cellOf(1, y) + cellGrid[1] * cellOf(2, z))];
  const affinities = new Float32Array(3 * labels.length).map(() => (eighths ? Math.floor(random() * 9) / 8 : random()));
  return { size, labels, affinities };
}

/** The chunk graphs of a volume, through the MeanGraph kernel, each through its file format. */
async function chunkGraphsOf(vol: Volume, chunk: Vec3): Promise<{ grid: Vec3; graphs: Map<bigint, RegionGraph> }> {
  const bounds = box([0, 0, 0], vol.size);
  const grid = vol.size.map((s, d) => Math.ceil(s / chunk[d])) as Vec3;
  const graphs = new Map<bigint, RegionGraph>();
  for (let z = 0; z < grid[2]; z++)
    for (let y = 0; y < grid[1]; y++)
      for (let x = 0; x < grid[0]; x++) {
        const g: Vec3 = [x, y, z];
        const owned = intersect(box(g.map((v, d) => v * chunk[d]) as Vec3, g.map((v, d) => (v + 1) * chunk[d]) as Vec3), bounds);
        const region: Box = intersect(box(owned.start.map((v) => v - 1) as Vec3, owned.stop), bounds);
        const shape = region.stop.map((v, d) => v - region.start[d]) as Vec3;
        const labels = new BigUint64Array(shape[0] * shape[1] * shape[2]);
        copyRegion(vol.labels, bounds, labels, region, region);
        const affinities = new Float32Array(3 * labels.length);
        copyRegion(vol.affinities, bounds, affinities, region, region, 3);
        const [graph] = chunkGraphs({ labels, affinities, box: region, chunks: [owned], bounds });
        graphs.set(cellKey(g, grid), decodeRegionGraph(encodeRegionGraph(graph), `chunk ${g}`, 'chunk'));
      }
  return { grid, graphs };
}

/** Per chunk, the encoded mapping of its labels under `mapping`. */
function perChunk(mapping: Map<bigint, bigint>, vol: Volume, chunk: Vec3, grid: Vec3): Map<bigint, string> {
  const [sx, sy] = vol.size;
  const out = new Map<bigint, string>();
  for (let z = 0; z < grid[2]; z++)
    for (let y = 0; y < grid[1]; y++)
      for (let x = 0; x < grid[0]; x++) {
        const m = new Map<bigint, bigint>();
        for (let k = z * chunk[2]; k < Math.min((z + 1) * chunk[2], vol.size[2]); k++)
          for (let j = y * chunk[1]; j < Math.min((y + 1) * chunk[1], sy); j++)
            for (let i = x * chunk[0]; i < Math.min((x + 1) * chunk[0], sx); i++) {
              const l = vol.labels[i + sx * (j + sy * k)];
              if (mapping.has(l)) m.set(l, mapping.get(l)!);
            }
        out.set(cellKey([x, y, z], grid), Buffer.from(encodeMapping(m)).toString('hex'));
      }
  return out;
}

describe('blockwise agglomeration', () => {
  it('gives every chunk the mapping of the brute force, for every block size, threshold and kind of affinities', async () => {
    const random = seededRandom(23);
    for (let trial = 0; trial < 12; trial++) {
      const size = [7 + Math.floor(random() * 8), 6 + Math.floor(random() * 8), 5 + Math.floor(random() * 6)] as Vec3;
      const chunk = [2 + Math.floor(random() * 3), 2 + Math.floor(random() * 3), 2 + Math.floor(random() * 2)] as Vec3;
      const vol = randomVolume(random, size, trial % 2 === 0);
      const { grid, graphs } = await chunkGraphsOf(vol, chunk);
      for (const t of [0, 0.2, 0.5, 0.7, 1]) {
        const want = perChunk(bruteForceAgglomeration(voxelEdges(vol.labels, vol.affinities, vol.size), t), vol, chunk, grid);
        for (const leaf of [1, 2, 3, Math.max(...grid)]) {
          const tree: BlockTree = { grid, leaf };
          const got = agglomerateTree(tree, (cell) => graphs.get(cellKey(cell, grid))!, t);
          const hex = new Map([...got].map(([k, s]) => [k, Buffer.from(encodeMapping(new Map([...s.from].map((f, i) => [f, s.to[i]])))).toString('hex')]));
          expect(hex, `trial ${trial} size ${size} chunk ${chunk} t ${t} leaf ${leaf} (${rootLevel(tree) + 1} levels)`).toEqual(want);
        }
      }
    }
  });
});
