// The mean-affinity region graph of one chunk (region-graph.ts has the file): for every pair of
// touching segments, the exact sum and the count of the affinities on the voxel edges between them
// that the chunk owns (the edges whose upper voxel, v for the edge between v and v - e_c, lies in
// it; so each voxel edge is counted by exactly one chunk and the graphs of many chunks add up
// exactly), and the chunk's regions: every label with voxels in it, with the faces it touches, and
// the labels just below its low faces that its edges reach. The faces say which regions a block of
// chunks sees whole (agglomerate.ts).
import { Kernels } from '../kernels/backend.js';
import { NOT_BOUNDARY } from '../kernels/affinity.js';
import { labelOfId, renumberLabels } from '../kernels/renumber.js';
import { Box, shapeOf } from '../common/box.js';
import { InvalidInput } from '../common/errors.js';
import { affinityUnits, emptyEdges, emptyRegions, RegionGraph, UNITS_PER_AFFINITY } from './region-graph.js';

export interface MeanGraphInput {
  labels: Uint32Array | BigUint64Array;
  /** 3 channels, channel-major, over the same box as the labels. */
  affinities: Float32Array;
  /** The box of `labels` and `affinities`: the chunks and one voxel below them (inside the volume). */
  box: Box;
  /** The chunks to make graphs of. */
  chunks: Box[];
  /** The volume's bounds: faces on them touch nothing. */
  bounds: Box;
  kernels: Kernels;
}

/** One chunk graph per chunk of `input.chunks`, in that order. */
export async function chunkGraphs(input: MeanGraphInput): Promise<RegionGraph[]> {
  const shape = shapeOf(input.box);
  const boundary = await input.kernels.boundaryAffinities({ labels: input.labels, affinities: input.affinities, shape });
  const table = renumberLabels(input.labels);
  const k = table.labels.length / table.wordsPerLabel;
  if (k * k > Number.MAX_SAFE_INTEGER) throw new InvalidInput(`mean graph: ${k} segments are too many for one box; use smaller tasks`);
  return input.chunks.map((chunk) => chunkGraph(input, chunk, shape, boundary, table.ids, k, (id) => labelOfId(table, id)));
}

function chunkGraph(
  input: MeanGraphInput,
  chunk: Box,
  shape: number[],
  boundary: Float32Array,
  ids: Uint32Array,
  k: number,
  labelOf: (id: number) => bigint,
): RegionGraph {
  const [sx, sy] = shape;
  const n = sx * sy * shape[2];
  const lo = chunk.start.map((v, i) => v - input.box.start[i]);
  const hi = chunk.stop.map((v, i) => v - input.box.start[i]);
  const steps = [1, sx, sx * sy];
  // Per pair of ids: a slot of exact sums (whole units of 2^32 carried out of the fraction).
  const slotOf = new Map<number, number>();
  const whole: number[] = [],
    fraction: number[] = [],
    count: number[] = [];
  const faces = new Uint8Array(k),
    inside = new Uint8Array(k),
    reached = new Uint8Array(k);
  let lastKey = -1,
    lastSlot = 0;
  for (let c = 0; c < 3; c++)
    for (let z = lo[2]; z < hi[2]; z++)
      for (let y = lo[1]; y < hi[1]; y++) {
        let v = lo[0] + sx * (y + sy * z);
        const rowShell = (c === 1 && y === lo[1]) || (c === 2 && z === lo[2]);
        for (let x = lo[0]; x < hi[0]; x++, v++) {
          const aff = boundary[c * n + v];
          if (aff === NOT_BOUNDARY) continue;
          const p = ids[v],
            q = ids[v - steps[c]];
          // The lower voxel lies below the chunk's low face c: its label is reached across that face.
          if (rowShell || (c === 0 && x === lo[0])) reached[q] |= 1 << c;
          const key = p < q ? p * k + q : q * k + p;
          // Neighbouring voxel edges mostly join the same pair: the last pair's slot saves a lookup.
          let slot = key === lastKey ? lastSlot : slotOf.get(key);
          if (slot === undefined) {
            slot = whole.length;
            slotOf.set(key, slot);
            whole.push(0);
            fraction.push(0);
            count.push(0);
          }
          lastKey = key;
          lastSlot = slot;
          let f = fraction[slot] + affinityUnits(aff);
          if (f >= UNITS_PER_AFFINITY) {
            f -= UNITS_PER_AFFINITY;
            whole[slot]++;
          }
          fraction[slot] = f;
          count[slot]++;
        }
      }
  markInside(ids, chunk, input, shape, inside, faces);

  const keys = [...slotOf.keys()].sort((x, y) => x - y);
  const edges = emptyEdges(keys.length);
  // Ids keep label order, so (id pair) order is (label pair) order.
  keys.forEach((key, i) => {
    const slot = slotOf.get(key)!;
    edges.a[i] = edges.tieA[i] = labelOf(Math.floor(key / k));
    edges.b[i] = edges.tieB[i] = labelOf(key % k);
    edges.whole[i] = whole[slot];
    edges.fraction[i] = fraction[slot];
    edges.count[i] = count[slot];
  });
  const listed: number[] = [];
  for (let id = 1; id < k; id++) if (inside[id] || reached[id]) listed.push(id);
  const regions = emptyRegions(listed.length);
  listed.forEach((id, i) => {
    regions.label[i] = labelOf(id);
    regions.faces[i] = faces[id] | reached[id];
    regions.inside[i] = inside[id];
  });
  return { kind: 'chunk', edges, regions };
}

/** Marks every label with voxels in the chunk, and the chunk's faces (not on the volume's bounds) it touches. */
function markInside(ids: Uint32Array, chunk: Box, input: MeanGraphInput, shape: number[], inside: Uint8Array, faces: Uint8Array): void {
  const [sx, sy] = shape;
  const lo = chunk.start.map((v, i) => v - input.box.start[i]);
  const hi = chunk.stop.map((v, i) => v - input.box.start[i]);
  const low = [0, 1, 2].map((d) => chunk.start[d] > input.bounds.start[d]);
  const high = [0, 1, 2].map((d) => chunk.stop[d] < input.bounds.stop[d]);
  for (let z = lo[2]; z < hi[2]; z++)
    for (let y = lo[1]; y < hi[1]; y++) {
      let v = lo[0] + sx * (y + sy * z);
      let rowFaces = 0;
      if (low[1] && y === lo[1]) rowFaces |= 2;
      if (low[2] && z === lo[2]) rowFaces |= 4;
      if (high[1] && y === hi[1] - 1) rowFaces |= 16;
      if (high[2] && z === hi[2] - 1) rowFaces |= 32;
      for (let x = lo[0]; x < hi[0]; x++, v++) {
        const id = ids[v];
        if (id === 0) continue;
        inside[id] = 1;
        let f = rowFaces;
        if (low[0] && x === lo[0]) f |= 1;
        if (high[0] && x === hi[0] - 1) f |= 8;
        faces[id] |= f;
      }
    }
}

/** Adds chunk graphs (edge sums of the same pair add); sorted by (a, b). For export and tests. */
export function mergedEdges(graphs: RegionGraph[]): { a: bigint; b: bigint; whole: number; fraction: number; count: number }[] {
  const merged = new Map<string, { a: bigint; b: bigint; whole: number; fraction: number; count: number }>();
  for (const g of graphs) {
    const e = g.edges;
    for (let i = 0; i < e.length; i++) {
      const key = `${e.a[i]},${e.b[i]}`;
      const have = merged.get(key);
      if (!have) merged.set(key, { a: e.a[i], b: e.b[i], whole: e.whole[i], fraction: e.fraction[i], count: e.count[i] });
      else {
        have.fraction += e.fraction[i];
        have.whole += e.whole[i];
        if (have.fraction >= UNITS_PER_AFFINITY) {
          have.fraction -= UNITS_PER_AFFINITY;
          have.whole++;
        }
        have.count += e.count[i];
      }
    }
  }
  return [...merged.values()].sort((p, q) => (p.a < q.a ? -1 : p.a > q.a ? 1 : p.b < q.b ? -1 : p.b > q.b ? 1 : 0));
}
