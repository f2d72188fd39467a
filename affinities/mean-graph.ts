// The mean-affinity region graph: for every pair of touching segments, the sum and the count of the
// affinities on the voxel edges between them. Sums and counts (not means) are kept so that the graphs
// of many chunks merge exactly: mean = sum of sums / sum of counts.
//
// A chunk file (one per MeanGraph task) and the merged graph share one JSON shape:
//   {"edges": [["<a>", "<b>", sum, count], ...]}   a < b, segment ids as decimal strings (uint64),
// sorted by (a, b); the merged graph adds the mean as a fifth member.
import { Kernels } from '../kernels/backend.js';
import { NOT_BOUNDARY } from '../kernels/affinity.js';
import { labelOfId, renumberLabels } from '../kernels/renumber.js';
import { Box, shapeOf } from '../common/box.js';
import { CorruptData, InvalidInput } from '../common/errors.js';

export interface GraphEdge {
  a: bigint;
  b: bigint;
  sum: number;
  count: number;
}

export interface MeanGraphInput {
  labels: Uint32Array | BigUint64Array;
  /** 3 channels, channel-major, over the same box as the labels. */
  affinities: Float32Array;
  /** The box of `labels` and `affinities`. */
  box: Box;
  /** Only edges whose upper voxel (v, for the edge between v and v - e_c) lies here are counted. */
  owned: Box;
  kernels: Kernels;
}

/** The graph of the owned edges, sorted by (a, b). */
export async function meanGraph(input: MeanGraphInput): Promise<GraphEdge[]> {
  const shape = shapeOf(input.box);
  const [sx, sy] = shape;
  const n = sx * sy * shape[2];
  // The kernel picks out the edges between two different non-zero labels; sums run here in float64.
  const boundary = await input.kernels.boundaryAffinities({ labels: input.labels, affinities: input.affinities, shape });
  const table = renumberLabels(input.labels);
  const { ids } = table;
  const k = table.labels.length / table.wordsPerLabel;
  if (k * k > Number.MAX_SAFE_INTEGER) throw new InvalidInput(`mean graph: ${k} segments are too many for one box; use smaller tasks`);
  const sums = new Map<number, { sum: number; count: number }>();
  const lo = input.owned.start.map((v, i) => v - input.box.start[i]);
  const hi = input.owned.stop.map((v, i) => v - input.box.start[i]);
  const steps = [1, sx, sx * sy];
  for (let c = 0; c < 3; c++)
    for (let z = lo[2]; z < hi[2]; z++)
      for (let y = lo[1]; y < hi[1]; y++) {
        let v = lo[0] + sx * (y + sy * z);
        for (let x = lo[0]; x < hi[0]; x++, v++) {
          const aff = boundary[c * n + v];
          if (aff === NOT_BOUNDARY) continue;
          const p = ids[v],
            q = ids[v - steps[c]];
          const key = p < q ? p * k + q : q * k + p;
          const entry = sums.get(key);
          if (entry) {
            entry.sum += aff;
            entry.count++;
          } else sums.set(key, { sum: aff, count: 1 });
        }
      }
  // Ids keep label order, so (id pair) order is (label pair) order.
  return [...sums]
    .sort((p, q) => p[0] - q[0])
    .map(([key, { sum, count }]) => ({ a: labelOfId(table, Math.floor(key / k)), b: labelOfId(table, key % k), sum, count }));
}

/** Adds graphs edge by edge; the result is sorted by (a, b). Sums are added in the order given. */
export function mergeGraphs(graphs: GraphEdge[][]): GraphEdge[] {
  const merged = new Map<string, GraphEdge>();
  for (const graph of graphs)
    for (const e of graph) {
      const key = `${e.a},${e.b}`;
      const have = merged.get(key);
      if (have) {
        have.sum += e.sum;
        have.count += e.count;
      } else merged.set(key, { ...e });
    }
  return [...merged.values()].sort((p, q) => (p.a < q.a ? -1 : p.a > q.a ? 1 : p.b < q.b ? -1 : p.b > q.b ? 1 : 0));
}

export function encodeGraph(edges: GraphEdge[], withMean = false): Uint8Array {
  const rows = edges.map((e) => `["${e.a}","${e.b}",${e.sum},${e.count}${withMean ? `,${e.sum / e.count}` : ''}]`);
  return new TextEncoder().encode(`{"edges":[\n${rows.join(',\n')}\n]}\n`);
}

const MAX_LABEL = (1n << 64n) - 1n;

/**
 * Parses a chunk file or the merged graph; `where` names it in errors. Anything a writer of this
 * format cannot have written is CorruptData: labels outside 1..2^64-1, a < b, sums that are not
 * finite or outside [0, count] (affinities lie in [0, 1]), counts that are not positive integers.
 */
export function decodeGraph(bytes: Uint8Array, where: string): GraphEdge[] {
  let raw: any;
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new CorruptData(`${where}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (!raw || !Array.isArray(raw.edges)) throw new CorruptData(`${where}: no "edges" array`);
  return raw.edges.map((row: unknown, i: number) => {
    const bad = (why: string) => new CorruptData(`${where}: edges[${i}] ${why}, got ${JSON.stringify(row)?.slice(0, 200)}`);
    if (
      !Array.isArray(row) ||
      row.length < 4 ||
      row.length > 5 ||
      typeof row[0] !== 'string' ||
      typeof row[1] !== 'string' ||
      !/^\d{1,20}$/.test(row[0]) ||
      !/^\d{1,20}$/.test(row[1]) ||
      typeof row[2] !== 'number' ||
      !Number.isSafeInteger(row[3]) ||
      row[3] < 1
    ) {
      throw bad('must be ["<a>", "<b>", sum, count]');
    }
    const a = BigInt(row[0]),
      b = BigInt(row[1]);
    if (a < 1n || b > MAX_LABEL || !(a < b)) throw bad('must join labels 0 < a < b < 2^64');
    if (!Number.isFinite(row[2]) || row[2] < 0 || row[2] > row[3]) throw bad('must have a sum in [0, count] (affinities are in [0, 1])');
    if (row.length === 5 && !(typeof row[4] === 'number' && row[4] >= 0 && row[4] <= 1)) throw bad('must have a mean in [0, 1]');
    return { a, b, sum: row[2], count: row[3] };
  });
}
