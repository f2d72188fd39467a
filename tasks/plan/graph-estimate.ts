// What the region graph and its blockwise agglomeration will cost, level by level: edges and
// regions each level reads, bytes, core-hours, the edges of its largest task. Level 0 reads every
// edge; a block passes up what it cannot decide, which is mostly what lies near its faces: the
// edges of fragments within one fragment's width of a face between blocks (stuck regions add to
// this on graphs whose means sit near the threshold). The density (edges and fragments a voxel) is
// counted from the chunk graphs where MeanGraph has written some, else assumed.
import { decodeRegionGraph } from '../../affinities/region-graph.js';
import { blockSide, checkTree, rootLevel } from '../../affinities/block-tree.js';
import { voxelCount } from '../../common/box.js';
import { chunkBox, chunkSize, gridShape, Info } from '../../precomputed/info.js';
import { Volume } from '../../precomputed/volume.js';
import { chunkGraphKey, maxChunkGraphBytes } from '../mean-graph.js';

export interface GraphDensity {
  edgesPerVoxel: number;
  /** Voxels a fragment (watershed region) spans. */
  voxelsPerRegion: number;
  /** Where the figures come from. */
  source: string;
}

/** A 100 TB EM watershed: ~10^10 fragments of ~10^4 voxels, ~8 edges a fragment. */
export const ASSUMED_DENSITY: GraphDensity = { edgesPerVoxel: 8e-4, voxelsPerRegion: 1e4, source: 'assumed (EM watershed: 10^4 voxels, 8 edges a fragment)' };

/**
 * Core time: MeanGraph 5 MVx/s per core (bench/mean-graph-peer.ts, the 2.4 M-edge watershed: 16.8 MVx
 * in 3.2 s), AgglomerateBlock 2.2 us a read edge (bench/agglomeration-scale.ts, level 0 of 10^8 edges: 111 s on 2 cores).
 */
export const MEAN_GRAPH_MVX_PER_CORE = 5;
export const AGGLOMERATE_US_PER_EDGE = 2.2;

/** Bytes of a chunk graph's edge record, a block graph's (tie key added), a region record. */
const CHUNK_EDGE_BYTES = 40,
  BLOCK_EDGE_BYTES = 56,
  REGION_BYTES = 16;

export interface GraphStageEstimate {
  edges: number;
  /** Edges of the stage's largest task (blocks at the volume's edge are smaller). */
  edgesPerTask: number;
  bytesRead: number;
  bytesWritten: number;
  coreHours: number;
}

/**
 * Edges and fragments a voxel from up to `sample` chunk graphs spread over the grid (their headers
 * say how many); null when none is written yet. A fragment in several chunks counts in each.
 */
export async function measureGraphDensity(segmentation: Volume, sample = 16): Promise<GraphDensity | null> {
  const scale = segmentation.scale(0);
  const [gx, gy, gz] = gridShape(scale);
  const step = Math.max(1, Math.floor((gx * gy * gz) / sample));
  let edges = 0,
    regions = 0,
    voxels = 0,
    found = 0;
  for (let i = 0; i < gx * gy * gz && found < sample; i += step) {
    const chunk = chunkBox(scale, [i % gx, Math.floor(i / gx) % gy, Math.floor(i / (gx * gy))]);
    const key = chunkGraphKey(chunk);
    const bytes = await segmentation.store.get(key, { maxBytes: maxChunkGraphBytes(chunk) });
    if (!bytes) continue;
    const graph = decodeRegionGraph(bytes, `${segmentation.url}/${key}`, 'chunk');
    edges += graph.edges.length;
    regions += graph.regions.length;
    voxels += voxelCount(chunk);
    found++;
  }
  if (found === 0 || regions === 0) return null;
  return { edgesPerVoxel: edges / voxels, voxelsPerRegion: voxels / regions, source: `counted in ${found} chunk graph(s)` };
}

/** The MeanGraph stage: reads every voxel of the watershed and the affinities, writes one graph a chunk. */
export function meanGraphEstimate(info: Info, density: GraphDensity): GraphStageEstimate {
  const scale = info.scales[0];
  const voxels = cells(scale.size);
  const edges = voxels * density.edgesPerVoxel;
  const chunk = chunkSize(scale);
  const chunks = cells(gridShape(scale));
  return {
    edges,
    edgesPerTask: edges / chunks,
    bytesRead: voxels * (8 + 12),
    bytesWritten: edges * CHUNK_EDGE_BYTES + regionsListed(voxels, chunk, density) * REGION_BYTES + 64 * chunks,
    coreHours: voxels / (MEAN_GRAPH_MVX_PER_CORE * 1e6) / 3600,
  };
}

/** The AgglomerateBlock stage of `level` on blocks of `leaf` chunks a side. */
export function agglomerateLevelEstimate(info: Info, leaf: number, level: number, density: GraphDensity): GraphStageEstimate {
  const scale = info.scales[0];
  const tree = checkTree({ grid: gridShape(scale), leaf: Math.min(leaf, Math.max(...gridShape(scale))) });
  const voxels = cells(scale.size);
  const blockVoxels = (l: number) => chunkSize(scale).map((c, d) => Math.min(c * blockSide(tree, l), scale.size[d]));
  const carried = level === 0 ? 1 : nearFaces(blockVoxels(level - 1), scale.size, density);
  const edges = voxels * density.edgesPerVoxel * carried;
  const regions = (voxels / density.voxelsPerRegion) * carried;
  const up = level < rootLevel(tree) ? nearFaces(blockVoxels(level), scale.size, density) : 0;
  const biggest = cells(blockVoxels(level)) / voxels;
  return {
    edges,
    edgesPerTask: edges * Math.min(1, biggest),
    bytesRead:
      level === 0
        ? edges * CHUNK_EDGE_BYTES + regionsListed(voxels, chunkSize(scale), density) * REGION_BYTES
        : edges * BLOCK_EDGE_BYTES + regions * REGION_BYTES,
    bytesWritten: voxels * density.edgesPerVoxel * up * BLOCK_EDGE_BYTES + regions * REGION_BYTES,
    coreHours: (edges * AGGLOMERATE_US_PER_EDGE) / 1e6 / 3600,
  };
}

/** The share of fragments within one fragment's width of a face between blocks of `block` voxels. */
function nearFaces(block: number[], size: number[], density: GraphDensity): number {
  const width = Math.cbrt(density.voxelsPerRegion);
  // Along an axis the blocks split, a fragment that far from a face; an axis they span has no face.
  const inside = block.reduce((p, b, d) => p * (b >= size[d] ? 1 : Math.max(0, 1 - width / b)), 1);
  return 1 - inside;
}

/** Region records over all chunk graphs: a fragment is listed in every chunk it touches (as a segment's legacy mesh fragments are). */
export function regionsListed(voxels: number, chunk: number[], density: GraphDensity): number {
  const width = Math.cbrt(density.voxelsPerRegion);
  return (voxels / density.voxelsPerRegion) * chunk.reduce((p, c) => p * (1 + width / c), 1);
}

const cells = (v: number[]) => v[0] * v[1] * v[2];
