// The binary region graph: what a MeanGraph task writes per chunk and what each agglomeration block
// passes to its parent. Little-endian, 8-byte words:
//   header (64 bytes): "DGRG", u32 version 1, u32 kind (1 chunk graph, 2 block graph), u32 0,
//     u64 edge count, u64 region count, u64 smallest label, u64 largest label (0, 0 when empty),
//     u32 CRC-32 of every byte after the header, 12 zero bytes;
//   edges, sorted by (a, b), a < b: u64 a, u64 b, u64 whole, u64 fraction, u64 count, and in block
//     graphs u64 tie_a, u64 tie_b (the edge's tie key; a chunk graph's is (a, b) itself);
//   regions, sorted by label: u64 label, u64 flags (bits 0-5: faces the region touches, see
//     FACE_BITS; bit 8: the region has voxels inside the chunk).
// A sum of affinities is exact and the same in any order of addition: every float32 affinity
// counts as round(affinity * 2^32) units (exact for affinities >= 2^-9, within 2^-33 below), and a
// sum is whole + fraction / 2^32 with both parts integers (fraction < 2^32), added with a carry.
import { crc32 } from 'node:zlib';
import { CorruptData } from '../common/errors.js';

export const UNITS_PER_AFFINITY = 2 ** 32;
const MAGIC = 0x47524744; // "DGRG"
const VERSION = 1;
export const HEADER_BYTES = 64;
const KINDS = { chunk: 1, block: 2 } as const;
export type GraphKind = keyof typeof KINDS;
/** Words per edge record. */
const EDGE_WORDS = { chunk: 5, block: 7 } as const;
const REGION_WORDS = 2;
const INSIDE_FLAG = 0x100;

/**
 * Faces of a box, as bits: 0, 1, 2 its low x, y, z faces; 3, 4, 5 its high ones. A region's bit is
 * set when it has a voxel on that face (faces on the volume's bounds never count: nothing is beyond).
 */
export const FACE_BITS = 0x3f;

export interface EdgeList {
  length: number;
  a: BigUint64Array;
  b: BigUint64Array;
  whole: Float64Array;
  fraction: Float64Array;
  count: Float64Array;
  tieA: BigUint64Array;
  tieB: BigUint64Array;
}

export interface RegionList {
  length: number;
  label: BigUint64Array;
  /** FACE_BITS: the faces of the chunk (or block) the region touches. 0: the region is whole here. */
  faces: Uint8Array;
  /** 1 when the region has voxels inside the chunk (chunk graphs; block graphs: always 1). */
  inside: Uint8Array;
}

export interface RegionGraph {
  kind: GraphKind;
  edges: EdgeList;
  regions: RegionList;
}

export function emptyEdges(n: number): EdgeList {
  return {
    length: n,
    a: new BigUint64Array(n),
    b: new BigUint64Array(n),
    whole: new Float64Array(n),
    fraction: new Float64Array(n),
    count: new Float64Array(n),
    tieA: new BigUint64Array(n),
    tieB: new BigUint64Array(n),
  };
}

export function emptyRegions(n: number): RegionList {
  return { length: n, label: new BigUint64Array(n), faces: new Uint8Array(n), inside: new Uint8Array(n) };
}

/** A float32 affinity in [0, 1] as sum units. */
export function affinityUnits(affinity: number): number {
  return Math.round(affinity * UNITS_PER_AFFINITY);
}

/** The bytes as uint64 words (a view where aligned, else a copy); the length is a multiple of 8. */
function wordsOf(bytes: Uint8Array): BigUint64Array {
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  return new BigUint64Array(aligned.buffer, aligned.byteOffset, aligned.length / 8);
}

export function encodeRegionGraph(graph: RegionGraph): Uint8Array {
  const { edges, regions, kind } = graph;
  const ew = EDGE_WORDS[kind];
  const words = new BigUint64Array((HEADER_BYTES >> 3) + ew * edges.length + REGION_WORDS * regions.length);
  let lo = 0n,
    hi = 0n,
    any = false;
  const see = (l: bigint) => {
    if (!any || l < lo) lo = l;
    if (!any || l > hi) hi = l;
    any = true;
  };
  let w = HEADER_BYTES >> 3;
  for (let i = 0; i < edges.length; i++, w += ew) {
    words[w] = edges.a[i];
    words[w + 1] = edges.b[i];
    words[w + 2] = BigInt(edges.whole[i]);
    words[w + 3] = BigInt(edges.fraction[i]);
    words[w + 4] = BigInt(edges.count[i]);
    if (kind === 'block') {
      words[w + 5] = edges.tieA[i];
      words[w + 6] = edges.tieB[i];
    }
    see(edges.a[i]);
    see(edges.b[i]);
  }
  for (let i = 0; i < regions.length; i++, w += REGION_WORDS) {
    words[w] = regions.label[i];
    words[w + 1] = BigInt(regions.faces[i] | (regions.inside[i] ? INSIDE_FLAG : 0));
    see(regions.label[i]);
  }
  const bytes = new Uint8Array(words.buffer);
  const header = new DataView(words.buffer, 0, HEADER_BYTES);
  header.setUint32(0, MAGIC, true);
  header.setUint32(4, VERSION, true);
  header.setUint32(8, KINDS[kind], true);
  header.setBigUint64(16, BigInt(edges.length), true);
  header.setBigUint64(24, BigInt(regions.length), true);
  header.setBigUint64(32, lo, true);
  header.setBigUint64(40, hi, true);
  header.setUint32(48, crc32(bytes.subarray(HEADER_BYTES)), true);
  return bytes;
}

/**
 * Reads a region graph, checking what a writer of this format cannot have written: the header's
 * counts against the file's size (before anything is allocated), the checksum, the order of edges
 * and regions, labels and sums in range. Every failure is CorruptData naming `where`.
 */
export function decodeRegionGraph(bytes: Uint8Array, where: string, expect?: GraphKind): RegionGraph {
  const fail = (why: string) => new CorruptData(`${where}: ${why}`);
  if (bytes.length < HEADER_BYTES) throw fail(`${bytes.length} bytes, shorter than the ${HEADER_BYTES}-byte region graph header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (view.getUint32(0, true) !== MAGIC) throw fail('not a region graph (no DGRG magic)');
  if (view.getUint32(4, true) !== VERSION) throw fail(`region graph version ${view.getUint32(4, true)}, this reader knows ${VERSION}`);
  const kindCode = view.getUint32(8, true);
  const kind = (Object.keys(KINDS) as GraphKind[]).find((k) => KINDS[k] === kindCode);
  if (!kind) throw fail(`unknown region graph kind ${kindCode}`);
  if (expect && kind !== expect) throw fail(`a ${kind} graph where a ${expect} graph belongs`);
  const edgeCount = view.getBigUint64(16, true),
    regionCount = view.getBigUint64(24, true);
  const ew = EDGE_WORDS[kind];
  const want = BigInt(HEADER_BYTES) + 8n * (BigInt(ew) * edgeCount + BigInt(REGION_WORDS) * regionCount);
  if (want !== BigInt(bytes.length))
    throw fail(`the header lists ${edgeCount} edges and ${regionCount} regions (${want} bytes), the file has ${bytes.length} bytes`);
  if (view.getUint32(48, true) !== crc32(bytes.subarray(HEADER_BYTES))) throw fail('checksum mismatch (torn or altered file)');
  const words = wordsOf(bytes);
  const ne = Number(edgeCount),
    nr = Number(regionCount);
  const edges = emptyEdges(ne);
  let w = HEADER_BYTES >> 3;
  for (let i = 0; i < ne; i++, w += ew) {
    const a = words[w],
      b = words[w + 1];
    const whole = words[w + 2],
      fraction = words[w + 3],
      count = words[w + 4];
    if (a === 0n || !(a < b)) throw fail(`edge ${i} joins ${a} and ${b}; an edge joins labels 0 < a < b`);
    if (i > 0 && !(a > edges.a[i - 1] || (a === edges.a[i - 1] && b > edges.b[i - 1]))) throw fail(`edge ${i} (${a}, ${b}) is out of (a, b) order`);
    if (count < 1n || count > BigInt(Number.MAX_SAFE_INTEGER)) throw fail(`edge ${i} has count ${count}, outside 1..2^53`);
    if (fraction >= BigInt(UNITS_PER_AFFINITY) || whole > count || (whole === count && fraction !== 0n))
      throw fail(`edge ${i} has sum ${whole} + ${fraction}/2^32 over ${count} voxel edges; affinities are in [0, 1]`);
    edges.a[i] = a;
    edges.b[i] = b;
    edges.whole[i] = Number(whole);
    edges.fraction[i] = Number(fraction);
    edges.count[i] = Number(count);
    if (kind === 'block') {
      const ta = words[w + 5],
        tb = words[w + 6];
      if (ta === 0n || !(ta < tb)) throw fail(`edge ${i} has tie key (${ta}, ${tb}); a tie key is a label pair 0 < a < b`);
      edges.tieA[i] = ta;
      edges.tieB[i] = tb;
    } else {
      edges.tieA[i] = a;
      edges.tieB[i] = b;
    }
  }
  const regions = emptyRegions(nr);
  for (let i = 0; i < nr; i++, w += REGION_WORDS) {
    const label = words[w],
      flags = words[w + 1];
    if (label === 0n) throw fail(`region ${i} is label 0 (background is no region)`);
    if (i > 0 && !(label > regions.label[i - 1])) throw fail(`region ${i} (${label}) is out of label order`);
    if ((flags & ~BigInt(FACE_BITS | INSIDE_FLAG)) !== 0n) throw fail(`region ${i} has flags ${flags}; only bits 0-5 and 8 are defined`);
    regions.label[i] = label;
    regions.faces[i] = Number(flags & BigInt(FACE_BITS));
    regions.inside[i] = flags & BigInt(INSIDE_FLAG) ? 1 : 0;
  }
  return { kind, edges, regions };
}

// ---- name tables: which region each label (or child region) belongs to

/**
 * A block's names: for each of its children (a chunk, or a block of the level below), in the order
 * given, the child's regions (`from`, ascending) and the region each ended in (`to`). Layout:
 * "DGRN", u32 version 1, u64 section count, u64 pair count, u32 CRC-32 of what follows the header,
 * 4 zero bytes; then per section u64 key, u64 pair count; then the pairs (u64 from, u64 to).
 */
export interface NameSection {
  key: bigint;
  from: BigUint64Array;
  to: BigUint64Array;
}
const NAMES_MAGIC = 0x4e524744; // "DGRN"
const NAMES_HEADER = 32;

export function encodeNames(sections: NameSection[]): Uint8Array {
  const pairs = sections.reduce((n, s) => n + s.from.length, 0);
  const words = new BigUint64Array(NAMES_HEADER / 8 + 2 * sections.length + 2 * pairs);
  let w = NAMES_HEADER / 8;
  for (const s of sections) {
    words[w++] = s.key;
    words[w++] = BigInt(s.from.length);
  }
  for (const s of sections)
    for (let i = 0; i < s.from.length; i++) {
      words[w++] = s.from[i];
      words[w++] = s.to[i];
    }
  const bytes = new Uint8Array(words.buffer);
  const header = new DataView(words.buffer, 0, NAMES_HEADER);
  header.setUint32(0, NAMES_MAGIC, true);
  header.setUint32(4, VERSION, true);
  header.setBigUint64(8, BigInt(sections.length), true);
  header.setBigUint64(16, BigInt(pairs), true);
  header.setUint32(24, crc32(bytes.subarray(NAMES_HEADER)), true);
  return bytes;
}

export function decodeNames(bytes: Uint8Array, where: string): NameSection[] {
  const fail = (why: string) => new CorruptData(`${where}: ${why}`);
  if (bytes.length < NAMES_HEADER) throw fail(`${bytes.length} bytes, shorter than the ${NAMES_HEADER}-byte name table header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (view.getUint32(0, true) !== NAMES_MAGIC) throw fail('not a name table (no DGRN magic)');
  if (view.getUint32(4, true) !== VERSION) throw fail(`name table version ${view.getUint32(4, true)}, this reader knows ${VERSION}`);
  const sectionCount = view.getBigUint64(8, true),
    pairCount = view.getBigUint64(16, true);
  const want = BigInt(NAMES_HEADER) + 16n * (sectionCount + pairCount);
  if (want !== BigInt(bytes.length))
    throw fail(`the header lists ${sectionCount} sections and ${pairCount} pairs (${want} bytes), the file has ${bytes.length}`);
  if (view.getUint32(24, true) !== crc32(bytes.subarray(NAMES_HEADER))) throw fail('checksum mismatch (torn or altered file)');
  const words = wordsOf(bytes);
  const sections: NameSection[] = [];
  let w = NAMES_HEADER / 8,
    p = w + 2 * Number(sectionCount),
    total = 0n;
  for (let s = 0; s < Number(sectionCount); s++, w += 2) {
    const n = words[w + 1];
    total += n;
    if (total > pairCount) throw fail(`section ${s} lists more pairs than the header's ${pairCount}`);
    const from = new BigUint64Array(Number(n)),
      to = new BigUint64Array(Number(n));
    for (let i = 0; i < from.length; i++, p += 2) {
      from[i] = words[p];
      to[i] = words[p + 1];
      if (from[i] === 0n || to[i] === 0n || to[i] > from[i])
        throw fail(`section ${s} pair ${i} names ${from[i]} -> ${to[i]}; a region is named by its smallest label`);
      if (i > 0 && !(from[i] > from[i - 1])) throw fail(`section ${s} pair ${i} (${from[i]}) is out of order`);
    }
    sections.push({ key: words[w], from, to });
  }
  if (total !== pairCount) throw fail(`sections list ${total} pairs, the header ${pairCount}`);
  return sections;
}
