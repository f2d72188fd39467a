// The block tree of a blockwise agglomeration, in units of chunks of the segmentation's grid:
// level 0 blocks are cubes of `leaf` chunks a side; each level above joins 2x2x2 blocks of the one
// below; the root level's one block covers the grid. A block's children are its chunks (level 0) or
// the blocks it joins. Names come back down: the root's regions are final; a block's final names are
// its in-block names passed through its parent's final names (finalNames), and a chunk's mapping is
// its labels' names in its level 0 block passed through that block's final names.
import { Vec3 } from '../common/box.js';
import { InvalidInput } from '../common/errors.js';
import { agglomerateBlock, BlockChild, BlockResult } from './agglomerate.js';
import { NameSection, RegionGraph } from './region-graph.js';

export interface BlockTree {
  /** The chunk grid. */
  grid: Vec3;
  /** Chunks a side of a level 0 block. */
  leaf: number;
}

/** A block: its level and its index in that level's grid of blocks. */
export interface BlockAt {
  level: number;
  index: Vec3;
}

export function checkTree(tree: BlockTree): BlockTree {
  if (!Number.isSafeInteger(tree.leaf) || tree.leaf < 1)
    throw new InvalidInput(`agglomeration: block ${tree.leaf} must be a whole number of chunks, at least 1`);
  return tree;
}

/** Chunks a side of a block at `level`. */
export function blockSide(tree: BlockTree, level: number): number {
  return tree.leaf * 2 ** level;
}

/** The root's level: the lowest whose one block covers the grid. */
export function rootLevel(tree: BlockTree): number {
  let level = 0;
  while (blockSide(tree, level) < Math.max(...tree.grid)) level++;
  return level;
}

export function blockGrid(tree: BlockTree, level: number): Vec3 {
  const s = blockSide(tree, level);
  return tree.grid.map((g) => Math.ceil(g / s)) as Vec3;
}

/** Every block of a level, x fastest. */
export function blocksAt(tree: BlockTree, level: number): BlockAt[] {
  const [bx, by, bz] = blockGrid(tree, level);
  const out: BlockAt[] = [];
  for (let z = 0; z < bz; z++) for (let y = 0; y < by; y++) for (let x = 0; x < bx; x++) out.push({ level, index: [x, y, z] });
  return out;
}

/** The chunk cells [start, stop) of a block, inside the grid. */
export function blockCells(tree: BlockTree, b: BlockAt): { start: Vec3; stop: Vec3 } {
  const s = blockSide(tree, b.level);
  return {
    start: b.index.map((i) => i * s) as Vec3,
    stop: b.index.map((i, d) => Math.min((i + 1) * s, tree.grid[d])) as Vec3,
  };
}

/** A level 0 block's chunk cells, x fastest. */
export function chunksOf(tree: BlockTree, b: BlockAt): Vec3[] {
  const { start, stop } = blockCells(tree, b);
  const out: Vec3[] = [];
  for (let z = start[2]; z < stop[2]; z++) for (let y = start[1]; y < stop[1]; y++) for (let x = start[0]; x < stop[0]; x++) out.push([x, y, z]);
  return out;
}

/** A block's children at the level below (up to 2x2x2 that exist), x fastest. */
export function childBlocks(tree: BlockTree, b: BlockAt): BlockAt[] {
  const below = blockGrid(tree, b.level - 1);
  const out: BlockAt[] = [];
  for (let z = 0; z < 2; z++)
    for (let y = 0; y < 2; y++)
      for (let x = 0; x < 2; x++) {
        const index = [2 * b.index[0] + x, 2 * b.index[1] + y, 2 * b.index[2] + z] as Vec3;
        if (index.every((v, d) => v < below[d])) out.push({ level: b.level - 1, index });
      }
  return out;
}

/** The level 0 block holding a chunk cell. */
export function leafBlockOf(tree: BlockTree, cell: Vec3): BlockAt {
  return { level: 0, index: cell.map((c) => Math.floor(c / tree.leaf)) as Vec3 };
}

/** The faces (FACE_BITS) of a child's cells that lie on its block's faces. */
export function outerFaces(child: { start: Vec3; stop: Vec3 }, block: { start: Vec3; stop: Vec3 }): number {
  let bits = 0;
  for (let d = 0; d < 3; d++) {
    if (child.start[d] === block.start[d]) bits |= 1 << d;
    if (child.stop[d] === block.stop[d]) bits |= 8 << d;
  }
  return bits;
}

/** A cell's index in a grid, x fastest: the key of its section in a name table. */
export function cellKey(cell: Vec3, grid: Vec3): bigint {
  return BigInt(cell[0] + grid[0] * (cell[1] + grid[1] * cell[2]));
}

/** One block's children as the agglomeration takes them. */
export function blockChildren(tree: BlockTree, b: BlockAt, graphOf: (child: { start: Vec3; stop: Vec3 }, key: bigint) => RegionGraph): BlockChild[] {
  const cells = blockCells(tree, b);
  if (b.level === 0) {
    return chunksOf(tree, b).map((c) => {
      const child = { start: c, stop: c.map((v) => v + 1) as Vec3 };
      const key = cellKey(c, tree.grid);
      return { graph: graphOf(child, key), outer: outerFaces(child, cells), key };
    });
  }
  return childBlocks(tree, b).map((c) => {
    const child = blockCells(tree, c);
    const key = cellKey(c.index, blockGrid(tree, c.level));
    return { graph: graphOf(child, key), outer: outerFaces(child, cells), key };
  });
}

/**
 * Names passed through final names: for each (from, to) of `section`, (from, final(to)) where that
 * differs from `from`. `finals` is sorted by `from` (a block's final names; empty at the root).
 */
export function finalNames(section: NameSection, finals: NameSection): NameSection {
  const from: bigint[] = [],
    to: bigint[] = [];
  for (let i = 0; i < section.from.length; i++) {
    const name = lookup(finals, section.to[i]) ?? section.to[i];
    if (name !== section.from[i]) {
      from.push(section.from[i]);
      to.push(name);
    }
  }
  return { key: section.key, from: BigUint64Array.from(from), to: BigUint64Array.from(to) };
}

function lookup(s: NameSection, x: bigint): bigint | undefined {
  let l = 0,
    r = s.from.length - 1;
  while (l <= r) {
    const m = (l + r) >> 1;
    if (s.from[m] === x) return s.to[m];
    if (s.from[m] < x) l = m + 1;
    else r = m - 1;
  }
  return undefined;
}

export const NO_NAMES: NameSection = { key: 0n, from: new BigUint64Array(0), to: new BigUint64Array(0) };

/**
 * The whole tree in memory (tests and benchmarks; tasks do the same through files): every chunk's
 * mapping, as (label, region) pairs of its labels that change, keyed by the chunk's cell key.
 */
export function agglomerateTree(tree: BlockTree, chunkGraph: (cell: Vec3) => RegionGraph, threshold: number, onBlock?: (b: BlockAt, r: BlockResult) => void) {
  checkTree(tree);
  const top = rootLevel(tree);
  const results = new Map<string, BlockResult>();
  const id = (b: BlockAt) => `${b.level}:${b.index}`;
  for (let level = 0; level <= top; level++)
    for (const b of blocksAt(tree, level)) {
      const children =
        level === 0
          ? blockChildren(tree, b, (child) => chunkGraph(child.start))
          : blockChildren(tree, b, (_, key) => {
              const c = childBlocks(tree, b).find((x) => cellKey(x.index, blockGrid(tree, level - 1)) === key)!;
              return results.get(id(c))!.graph;
            });
      const r = agglomerateBlock(children, threshold);
      onBlock?.(b, r);
      results.set(id(b), r);
    }
  // Names down: a block's final names come from its parent's names of it.
  const finals = new Map<string, NameSection>();
  for (let level = top; level >= 1; level--)
    for (const b of blocksAt(tree, level)) {
      const mine = finals.get(id(b)) ?? NO_NAMES;
      const r = results.get(id(b))!;
      childBlocks(tree, b).forEach((c, i) => finals.set(id(c), finalNames(r.names[i], mine)));
    }
  const mapping = new Map<bigint, NameSection>();
  for (const b of blocksAt(tree, 0)) {
    const mine = finals.get(id(b)) ?? NO_NAMES;
    for (const section of results.get(id(b))!.names) mapping.set(section.key, finalNames(section, mine));
  }
  return mapping;
}
