// What the per-segment outputs (multi-resolution meshes, skeletons) share: their directory's info
// (its @type and sharding, checked), the merge groups segments fall in (a shard, or id mod batches
// when unsharded), the grid of chunk blocks their first-stage tasks cover, and the reads of one
// group's (or one range of groups') bytes from a first-stage or gathered object.
import { box, Box, intersect, Vec3 } from '../common/box.js';
import { CorruptData, InvalidInput } from '../common/errors.js';
import { decodeDenseEntry, decodeRangeEntry, denseEntryAt, findGroup, GroupRange, maxForgeIndexBytes } from '../mesh/forge-object.js';
import { chunkSize, gridShape, scaleBounds } from '../precomputed/info.js';
import { locateChunk, shardingSchema, ShardingSpec } from '../precomputed/sharding.js';
import { Volume } from '../precomputed/volume.js';
import * as v from 'valibot';

/** `<dir>/info` of a layer: of `type`, and its sharding (undefined: unsharded), checked; `hint` says what writes it. */
export async function readDirectoryInfo(volume: Volume, dir: string, type: string, what: string, hint: string): Promise<ShardingSpec | undefined> {
  const bytes = await volume.store.get(`${dir}/info`, { maxBytes: 64 << 10 });
  const where = `${volume.url}/${dir}/info`;
  if (!bytes) throw new InvalidInput(`${what}: ${where} is missing (${hint} writes it)`);
  let info: { '@type'?: unknown; sharding?: unknown };
  try {
    info = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new CorruptData(`${where}: not JSON`, { cause: e });
  }
  if (info['@type'] !== type) throw new InvalidInput(`${what}: ${where} "@type" is ${JSON.stringify(info['@type'])}, not "${type}"`);
  if (info.sharding === undefined) return undefined;
  const parsed = v.safeParse(shardingSchema, info.sharding);
  if (!parsed.success) throw new CorruptData(`${where}: "sharding": ${parsed.issues[0].message}`);
  return parsed.output;
}

/** The merge groups: 2^shard_bits shards, or `batches` (required unsharded) by id mod batches. */
export function mergeGroups(
  sharding: ShardingSpec | undefined,
  batches: number | undefined,
  what: string,
): { groups: number; groupOf: (id: bigint) => number } {
  if (sharding) return { groups: 2 ** sharding.shard_bits, groupOf: (id) => locateChunk(id, sharding).shard };
  if (!batches) throw new InvalidInput(`${what}: batches is required when unsharded`);
  const n = BigInt(batches);
  return { groups: batches, groupOf: (id) => Number(id % n) };
}

/** The boxes of `step` voxels a side from the corner of `region`, clipped to it (x fastest). */
export function* boxesIn(region: Box, step: Vec3): Generator<Box> {
  for (let z = region.start[2]; z < region.stop[2]; z += step[2])
    for (let y = region.start[1]; y < region.stop[1]; y += step[1])
      for (let x = region.start[0]; x < region.stop[0]; x += step[0]) yield intersect(box([x, y, z], [x + step[0], y + step[1], z + step[2]]), region);
}

const blockStep = (volume: Volume, block: number) => chunkSize(volume.scale(0)).map((c) => c * block) as Vec3;

/** Blocks of `block` chunks a side over mip 0, clipped to the volume (x fastest). */
export function chunkBlocks(volume: Volume, block: number): Generator<Box> {
  return boxesIn(scaleBounds(volume.scale(0)), blockStep(volume, block));
}

/** How many boxes chunkBlocks makes. */
export function chunkBlockCount(volume: Volume, block: number): number {
  return gridShape(volume.scale(0)).reduce((n, g) => n * Math.ceil(g / block), 1);
}

/** Box `i` of chunkBlocks(volume, block). */
export function chunkBlockAt(volume: Volume, block: number, i: number): Box {
  const bounds = scaleBounds(volume.scale(0));
  const [nx, ny] = gridShape(volume.scale(0)).map((g) => Math.ceil(g / block));
  const cell = [i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))];
  const step = blockStep(volume, block);
  const start = cell.map((c, d) => bounds.start[d] + c * step[d]) as Vec3;
  return intersect(box(start, start.map((s, d) => s + step[d]) as Vec3), bounds);
}

/**
 * A merge group's part of one object (`dataKey`) and where its index says it lies: from a gathered
 * object's dense index (`first`: the index's first group), one entry read by range; else from the
 * object's whole index (of at most `groups` entries). Null when the object holds none of the group.
 * A missing index is InvalidInput (`hint` says which stage writes it); bytes shorter than the index
 * says are CorruptData naming the object.
 */
export async function readGroupPart(
  volume: Volume,
  what: string,
  source: { indexKey: string; dataKey: string; group: number; groups: number; first?: number },
  hint: string,
): Promise<{ range: GroupRange; bytes: Uint8Array } | null> {
  const { indexKey, dataKey, group } = source;
  const where = `${volume.url}/${indexKey}`;
  let range: GroupRange | null;
  if (source.first !== undefined) {
    const at = denseEntryAt(group, source.first);
    const entry = await volume.store.getRange(indexKey, at.offset, at.length);
    if (!entry) throw new InvalidInput(`${what}: ${where} is missing (${hint})`);
    range = decodeDenseEntry(entry, group, where);
  } else {
    const index = await volume.store.get(indexKey, { maxBytes: maxForgeIndexBytes(source.groups) });
    if (!index) throw new InvalidInput(`${what}: ${where} is missing (${hint})`);
    range = findGroup(index, group, where);
  }
  if (!range || range.length === 0) return null;
  const bytes = await volume.store.getRange(dataKey, range.offset, range.length);
  if (!bytes || bytes.length !== range.length) throw new CorruptData(`${what}: ${volume.url}/${dataKey} ends before group ${group}'s ${range.length} bytes`);
  return { range, bytes };
}

/**
 * One range of groups' bytes of a first-stage object (`dataKey`), found by its range table
 * (`rangesKey`, two u64 entries read by range): null when the range is empty. A missing table is
 * InvalidInput (`hint`), bytes shorter than the table says CorruptData naming the object.
 */
export async function readRangePart(volume: Volume, what: string, rangesKey: string, dataKey: string, range: number, hint: string): Promise<Uint8Array | null> {
  const entry = await volume.store.getRange(rangesKey, 8 * range, 16);
  if (!entry) throw new InvalidInput(`${what}: ${volume.url}/${rangesKey} is missing (${hint})`);
  const part = decodeRangeEntry(entry, range, `${volume.url}/${rangesKey}`);
  if (part.length === 0) return null;
  const bytes = await volume.store.getRange(dataKey, part.offset, part.length);
  if (!bytes || bytes.length !== part.length)
    throw new CorruptData(`${what}: ${volume.url}/${dataKey} ends before group range ${range}'s ${part.length} bytes`);
  return bytes;
}
