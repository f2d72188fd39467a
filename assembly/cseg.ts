// Neuroglancer's compressed_segmentation encoder (codecs/compressed-segmentation.ts holds the plain
// loop, which tests hold this to byte for byte, and the layout of its output). The JS side
// (wasm/kernels.ts) sizes the scratch with cseg_scratch_end, calls cseg_begin once per channel, then cseg_layer for each layer of blocks with
// that layer's z-slices copied into linear memory; the channel's words grow in place after them.

// Scratch, laid out by cseg_begin: a hash table of the block's labels (open addressing, live when a
// slot's stamp is the block's), each voxel's first-seen number, the distinct labels sorted with their
// first-seen numbers, first-seen number -> rank, and the channel's lookup tables by hash.
let slotKey: usize = 0,
  slotStamp: usize = 0,
  slotIndex: usize = 0,
  slotShift: u64 = 0,
  slotMask: u32 = 0;
let voxelIndex: usize = 0,
  sortedKey: usize = 0,
  sortedIndex: usize = 0,
  rank: usize = 0;
let tables: usize = 0,
  tableMask: u32 = 0;
let stamp: u32 = 0;

const TABLE_ENTRY: usize = 12; // hash, offset from the channel start, entries

/** Where the scratch for blocks of `blockVoxels` voxels and a channel of `blocks` blocks, laid out at `scratch`, ends. */
export function cseg_scratch_end(scratch: usize, blockVoxels: i32, blocks: i32): usize {
  let slots: u32 = 16,
    bits: u64 = 4;
  while (slots < <u32>(2 * blockVoxels)) {
    slots <<= 1;
    bits++;
  }
  let tableSlots: u32 = 16;
  while (tableSlots < <u32>(2 * blocks)) tableSlots <<= 1;
  slotShift = 64 - bits;
  slotMask = slots - 1;
  tableMask = tableSlots - 1;
  slotKey = scratch;
  slotStamp = slotKey + 8 * <usize>slots;
  slotIndex = slotStamp + 4 * <usize>slots;
  voxelIndex = slotIndex + 4 * <usize>slots;
  sortedKey = (voxelIndex + 4 * <usize>blockVoxels + 7) & ~7;
  sortedIndex = sortedKey + 8 * <usize>blockVoxels;
  rank = sortedIndex + 4 * <usize>blockVoxels;
  tables = rank + 4 * <usize>blockVoxels;
  return tables + TABLE_ENTRY * <usize>tableSlots;
}

/** Lays the scratch out as cseg_scratch_end says (the memory must reach its end) and clears it: a new channel. */
export function cseg_begin(scratch: usize, blockVoxels: i32, blocks: i32): void {
  const end = cseg_scratch_end(scratch, blockVoxels, blocks);
  memory.fill(slotStamp, 0, 4 * (<usize>slotMask + 1));
  memory.fill(tables, 0, end - tables);
  stamp = 0;
}

/**
 * Encodes the blocks of layer `gz` (gx x gy of them) from the `depth` z-slices at `src` (sx x sy
 * labels each, `w` words a label: 1 for uint32, 2 for uint64; a block reaching past them repeats the
 * last, as it repeats the chunk's last row and column). The channel starts at `out`, its headers
 * first; `length` words of it are written. Returns the new length, or -1 when a lookup table would
 * start 2^24 words or more past the channel's start (the header cannot say where).
 */
export function cseg_layer(src: usize, sx: i32, sy: i32, depth: i32, bx: i32, by: i32, bz: i32, w: i32, out: usize, length: i32, gx: i32, gy: i32, gz: i32): i32 {
  return w == 2 ? layer<u64>(src, sx, sy, depth, bx, by, bz, out, length, gx, gy, gz) : layer<u32>(src, sx, sy, depth, bx, by, bz, out, length, gx, gy, gz);
}

// @ts-ignore: decorator
@inline
function layer<T>(src: usize, sx: i32, sy: i32, depth: i32, bx: i32, by: i32, bz: i32, out: usize, length: i32, gx: i32, gy: i32, gz: i32): i32 {
  const blockVoxels = bx * by * bz;
  for (let y = 0; y < gy; y++)
    for (let x = 0; x < gx; x++) {
      const n = distinct<T>(src, sx, sy, depth, bx, by, bz, x * bx, y * by);
      sortDistinct(n);
      const bits = bitsFor(n);
      const valuesAt = length;
      if (bits > 0) packValues(out + 4 * <usize>valuesAt, bits, blockVoxels);
      length += (bits * blockVoxels + 31) >>> 5;
      const hash = tableHash(n);
      let tableAt = findTable<T>(out, n, hash);
      if (tableAt < 0) {
        tableAt = length;
        writeTable<T>(out + 4 * <usize>length, n);
        length += n * (sizeof<T>() >> 2);
        addTable(hash, tableAt, n);
      }
      if (tableAt >= 1 << 24) return -1;
      const h = out + 8 * <usize>(x + gx * (y + gy * gz));
      store<u32>(h, <u32>tableAt | (<u32>bits << 24));
      store<u32>(h + 4, <u32>valuesAt);
    }
  return length;
}

/** Numbers each voxel of the block at (x0, y0) by its label's first appearance; returns how many labels. */
// @ts-ignore: decorator
@inline
function distinct<T>(src: usize, sx: i32, sy: i32, depth: i32, bx: i32, by: i32, bz: i32, x0: i32, y0: i32): i32 {
  const s = ++stamp;
  let n = 0,
    i = 0;
  // The first voxel's label with its lowest bit flipped: it matches no voxel before the first.
  let last: u64 = <u64>load<T>(src + (<usize>x0 + <usize>sx * y0) * sizeof<T>()) ^ 1,
    lastIndex: u32 = 0;
  const inside = x0 + bx <= sx;
  for (let vz = 0; vz < bz; vz++) {
    const zz = min(vz, depth - 1);
    for (let vy = 0; vy < by; vy++) {
      const yy = min(y0 + vy, sy - 1);
      const row = src + <usize>sx * (<usize>yy + <usize>sy * zz) * sizeof<T>();
      for (let vx = 0; vx < bx; vx++, i++) {
        const xx = inside ? x0 + vx : min(x0 + vx, sx - 1);
        const key = <u64>load<T>(row + <usize>xx * sizeof<T>());
        if (key != last) {
          let slot = <u32>((key * 0x9e3779b97f4a7c15) >> slotShift);
          while (true) {
            const at = <usize>slot;
            if (load<u32>(slotStamp + 4 * at) != s) {
              store<u32>(slotStamp + 4 * at, s);
              store<u64>(slotKey + 8 * at, key);
              store<u32>(slotIndex + 4 * at, n);
              store<u64>(sortedKey + 8 * <usize>n, key);
              lastIndex = n++;
              break;
            }
            if (load<u64>(slotKey + 8 * at) == key) {
              lastIndex = load<u32>(slotIndex + 4 * at);
              break;
            }
            slot = (slot + 1) & slotMask;
          }
          last = key;
        }
        store<u32>(voxelIndex + 4 * <usize>i, lastIndex);
      }
    }
  }
  return n;
}

/** Sorts the n distinct labels ascending, carrying their first-seen numbers; rank[first seen] = sorted place. */
function sortDistinct(n: i32): void {
  for (let k = 0; k < n; k++) store<u32>(sortedIndex + 4 * <usize>k, k);
  if (n > 1) quicksort(0, n - 1);
  for (let k = 0; k < n; k++) store<u32>(rank + 4 * <usize>load<u32>(sortedIndex + 4 * <usize>k), k);
}

// @ts-ignore: decorator
@inline
function keyAt(k: i32): u64 {
  return load<u64>(sortedKey + 8 * <usize>k);
}

// @ts-ignore: decorator
@inline
function swap(a: i32, b: i32): void {
  const ka = keyAt(a),
    ia = load<u32>(sortedIndex + 4 * <usize>a);
  store<u64>(sortedKey + 8 * <usize>a, keyAt(b));
  store<u32>(sortedIndex + 4 * <usize>a, load<u32>(sortedIndex + 4 * <usize>b));
  store<u64>(sortedKey + 8 * <usize>b, ka);
  store<u32>(sortedIndex + 4 * <usize>b, ia);
}

/** Keys are distinct, so any correct sort gives the one order; insertion sort below 16 entries. */
function quicksort(lo: i32, hi: i32): void {
  while (hi - lo >= 16) {
    const mid = lo + ((hi - lo) >> 1);
    // Median of three at hi: sorted input (labels scanned in order) splits evenly.
    if (keyAt(mid) < keyAt(lo)) swap(mid, lo);
    if (keyAt(hi) < keyAt(lo)) swap(hi, lo);
    if (keyAt(mid) < keyAt(hi)) swap(mid, hi);
    const pivot = keyAt(hi);
    let i = lo;
    for (let j = lo; j < hi; j++)
      if (keyAt(j) < pivot) {
        swap(i, j);
        i++;
      }
    swap(i, hi);
    // The smaller side by recursion, the larger by the loop: the stack stays O(log n).
    if (i - lo < hi - i) {
      quicksort(lo, i - 1);
      lo = i + 1;
    } else {
      quicksort(i + 1, hi);
      hi = i - 1;
    }
  }
  for (let k = lo + 1; k <= hi; k++) {
    const key = keyAt(k),
      index = load<u32>(sortedIndex + 4 * <usize>k);
    let j = k - 1;
    while (j >= lo && keyAt(j) > key) {
      store<u64>(sortedKey + 8 * <usize>(j + 1), keyAt(j));
      store<u32>(sortedIndex + 4 * <usize>(j + 1), load<u32>(sortedIndex + 4 * <usize>j));
      j--;
    }
    store<u64>(sortedKey + 8 * <usize>(j + 1), key);
    store<u32>(sortedIndex + 4 * <usize>(j + 1), index);
  }
}

/** The fewest of 0, 1, 2, 4, 8, 16, 32 bits that number n labels. */
function bitsFor(n: i32): i32 {
  if (n <= 1) return 0;
  const need = 32 - clz<u32>(<u32>(n - 1)); // bits to hold n - 1
  return need <= 1 ? 1 : need <= 2 ? 2 : need <= 4 ? 4 : need <= 8 ? 8 : need <= 16 ? 16 : 32;
}

function packValues(at: usize, bits: i32, blockVoxels: i32): void {
  if (bits == 32) {
    for (let v = 0; v < blockVoxels; v++) store<u32>(at + 4 * <usize>v, load<u32>(rank + 4 * <usize>load<u32>(voxelIndex + 4 * <usize>v)));
    return;
  }
  const perWord = 32 / bits;
  for (let v = 0; v < blockVoxels; at += 4) {
    let acc: u32 = 0;
    const end = min(blockVoxels, v + perWord);
    for (let shift = 0; v < end; v++, shift += bits) acc |= load<u32>(rank + 4 * <usize>load<u32>(voxelIndex + 4 * <usize>v)) << shift;
    store<u32>(at, acc);
  }
}

function tableHash(n: i32): u32 {
  let h: u64 = 0xcbf29ce484222325 ^ <u64>n;
  for (let k = 0; k < n; k++) h = (h ^ keyAt(k)) * 0x100000001b3;
  return <u32>(h ^ (h >> 32));
}

/** The offset of an earlier table of this channel with exactly the block's sorted labels, or -1. */
// @ts-ignore: decorator
@inline
function findTable<T>(out: usize, n: i32, h: u32): i32 {
  let slot = h & tableMask;
  while (true) {
    const e = tables + TABLE_ENTRY * <usize>slot;
    const entries = load<u32>(e + 8);
    if (entries == 0) return -1;
    if (load<u32>(e) == h && entries == <u32>n) {
      const at = out + 4 * <usize>load<u32>(e + 4);
      let same = true;
      for (let k = 0; k < n && same; k++) same = <u64>load<T>(at + <usize>k * sizeof<T>()) == keyAt(k);
      if (same) return <i32>load<u32>(e + 4);
    }
    slot = (slot + 1) & tableMask;
  }
}

function addTable(h: u32, offset: i32, n: i32): void {
  let slot = h & tableMask;
  while (load<u32>(tables + TABLE_ENTRY * <usize>slot + 8) != 0) slot = (slot + 1) & tableMask;
  const e = tables + TABLE_ENTRY * <usize>slot;
  store<u32>(e, h);
  store<u32>(e + 4, <u32>offset);
  store<u32>(e + 8, <u32>n);
}

// @ts-ignore: decorator
@inline
function writeTable<T>(at: usize, n: i32): void {
  for (let k = 0; k < n; k++) store<T>(at + <usize>k * sizeof<T>(), <T>keyAt(k));
}
