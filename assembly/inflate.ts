// DEFLATE decoding (RFC 1951) for storage/gzip.ts's gunzip. The JS side parses the gzip frame, puts
// the DEFLATE stream in linear memory (16 zero bytes after it, so the bit reader may load 8 bytes at a
// time), reserves the output its trailer states (16 spare bytes after it, so matches copy 8 bytes at
// a time), and checks the CRC-32 and length after. Any fault here returns a negative status and the
// JS side hands the stream to node:zlib, which says what is wrong: this decoder only has to be right
// on good streams and never write outside its output or read outside its input's padding.
//
// Huffman codes decode through one table lookup of the next 11 (literal/length) or 8 (distance)
// bits; longer codes through a second table for their prefix. An entry packs the codeword length
// (bits 0-3, with 4-7 zero: a 64-bit shift by the whole entry counts mod 64, so shifts by the length
// without masking it), how many extra bits follow (8-11), its kind (12-14, or bit 31 for a literal)
// and a value (16-30): the literal, the base length or distance, or where the second table starts.

// A literal's entry has its top bit set (a sign test finds it); the other kinds sit in bits 12-14.
const LITERAL: u32 = 0x80000000;
const LENGTH: u32 = 1,
  END: u32 = 2,
  SUBTABLE: u32 = 3,
  INVALID: u32 = 4;

const LITLEN_BITS: u32 = 11,
  DIST_BITS: u32 = 8,
  PRECODE_BITS: u32 = 7;
const LITLEN_MASK: u64 = (1 << LITLEN_BITS) - 1,
  DIST_MASK: u64 = (1 << DIST_BITS) - 1;
// Primary table plus one second table per long code at most (each 2^(15 - primary bits) entries).
const LITLEN_ENTRIES: u32 = (1 << LITLEN_BITS) + 288 * (1 << (15 - LITLEN_BITS)),
  DIST_ENTRIES: u32 = (1 << DIST_BITS) + 32 * (1 << (15 - DIST_BITS));

export const CORRUPT: i32 = -1,
  TOO_LARGE: i32 = -2,
  TRUNCATED: i32 = -3;

// Static tables: the dynamic codes' tables, the fixed code's (built once) and the precode's.
const litlen = memory.data(4 * LITLEN_ENTRIES, 16),
  dist = memory.data(4 * DIST_ENTRIES, 16),
  fixedLitlen = memory.data(4 * LITLEN_ENTRIES, 16),
  fixedDist = memory.data(4 * DIST_ENTRIES, 16),
  precode = memory.data(4 * (1 << PRECODE_BITS), 16),
  lengths = memory.data(320, 16), // code lengths, litlen then distance
  counts = memory.data(2 * 16, 16),
  nextCode = memory.data(4 * 16, 16),
  sorted = memory.data(2 * 320, 16);
let fixedBuilt = false;

const LENGTH_BASE: StaticArray<u16> = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA: StaticArray<u8> = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE: StaticArray<u16> = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: StaticArray<u8> = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const PRECODE_ORDER: StaticArray<u8> = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

const enum Table {
  Litlen,
  Dist,
  Precode,
}

/** The entry of symbol `s` of a code of kind `table`, `len` bits long (its length in this table). */
// @ts-ignore: decorator
@inline
function entryOf(table: Table, s: u32, len: u32): u32 {
  if (table == Table.Litlen) {
    if (s < 256) return LITERAL | (s << 16) | len;
    if (s == 256) return len | (END << 12);
    if (s > 285) return INVALID << 12;
    const k = s - 257;
    return len | (LENGTH << 12) | (<u32>LENGTH_EXTRA[k] << 8) | (<u32>LENGTH_BASE[k] << 16);
  }
  if (table == Table.Dist) {
    if (s > 29) return INVALID << 12;
    return len | (LENGTH << 12) | (<u32>DIST_EXTRA[s] << 8) | (<u32>DIST_BASE[s] << 16);
  }
  return len | (s << 16);
}

/**
 * Builds the decoding table at `out` (primary bits `bits`) for the n code lengths at `lengths + from`.
 * Returns false for a code zlib refuses: over-subscribed, or incomplete unless it is a single code of
 * one bit (or no code at all) in a literal/length or distance code.
 */
function build(table: Table, out: usize, bits: u32, from: u32, n: u32): bool {
  memory.fill(counts, 0, 32);
  let maxLen: u32 = 0;
  for (let s: u32 = 0; s < n; s++) {
    const l = <u32>load<u8>(lengths + from + s);
    store<u16>(counts + 2 * l, load<u16>(counts + 2 * l) + 1);
    if (l > maxLen) maxLen = l;
  }
  const size: u32 = 1 << bits;
  if (maxLen == 0) {
    for (let i: u32 = 0; i < size; i++) store<u32>(out + 4 * i, INVALID << 12);
    return true;
  }
  // Kraft: room left at each length.
  let left: i32 = 1;
  for (let l: u32 = 1; l <= 15; l++) {
    left = (left << 1) - <i32>load<u16>(counts + 2 * l);
    if (left < 0) return false;
  }
  if (left > 0 && (table == Table.Precode || maxLen != 1)) return false;
  // Canonical codes: symbols sorted by (length, symbol), codes counted up within a length.
  let code: u32 = 0,
    at: u32 = 0;
  for (let l: u32 = 1; l <= 15; l++) {
    store<u32>(nextCode + 4 * l, at);
    at += load<u16>(counts + 2 * l);
  }
  for (let s: u32 = 0; s < n; s++) {
    const l = <u32>load<u8>(lengths + from + s);
    if (l == 0) continue;
    const k = load<u32>(nextCode + 4 * l);
    store<u16>(sorted + 2 * k, <u16>s);
    store<u32>(nextCode + 4 * l, k + 1);
  }
  for (let i: u32 = 0; i < size; i++) store<u32>(out + 4 * i, INVALID << 12);
  const subBits = maxLen > bits ? maxLen - bits : 0;
  let nextSub: u32 = size;
  let k: u32 = 0;
  code = 0;
  for (let l: u32 = 1; l <= 15; l++) {
    const count = <u32>load<u16>(counts + 2 * l);
    for (let c: u32 = 0; c < count; c++, k++, code++) {
      const s = <u32>load<u16>(sorted + 2 * k);
      const rev = reverse(code, l);
      if (l <= bits) {
        const e = entryOf(table, s, l);
        for (let i = rev; i < size; i += 1 << l) store<u32>(out + 4 * i, e);
      } else {
        const prefix = rev & (size - 1);
        let pointer = load<u32>(out + 4 * prefix);
        if (((pointer >> 12) & 7) != SUBTABLE) {
          pointer = bits | (SUBTABLE << 12) | (subBits << 8) | (nextSub << 16);
          store<u32>(out + 4 * prefix, pointer);
          for (let i: u32 = 0; i < <u32>1 << subBits; i++) store<u32>(out + 4 * (nextSub + i), INVALID << 12);
          nextSub += 1 << subBits;
        }
        const sub = out + 4 * <usize>(pointer >> 16);
        const e = entryOf(table, s, l - bits);
        for (let i = rev >> bits; i < <u32>1 << subBits; i += 1 << (l - bits)) store<u32>(sub + 4 * i, e);
      }
    }
    code <<= 1;
  }
  return true;
}

// @ts-ignore: decorator
@inline
function reverse(code: u32, len: u32): u32 {
  let r: u32 = 0;
  for (let i: u32 = 0; i < len; i++) {
    r = (r << 1) | (code & 1);
    code >>= 1;
  }
  return r;
}

function buildFixed(): void {
  for (let s = 0; s < 288; s++) store<u8>(lengths + s, s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8);
  for (let s = 0; s < 32; s++) store<u8>(lengths + 288 + s, 5);
  build(Table.Litlen, fixedLitlen, LITLEN_BITS, 0, 288);
  build(Table.Dist, fixedDist, DIST_BITS, 288, 32);
  fixedBuilt = true;
}

let consumedBytes: i32 = 0;

/** How many bytes of its input the last inflate call used (to its last block's final byte). */
export function inflate_consumed(): i32 {
  return consumedBytes;
}

/**
 * Inflates the DEFLATE stream of n bytes at src into dst, at most cap bytes. Returns the bytes
 * written, or CORRUPT, TOO_LARGE (more than cap) or TRUNCATED (the stream runs past its input).
 */
export function inflate(src: usize, n: i32, dst: usize, cap: i32): i32 {
  const inEnd = src + <usize>n,
    limit = inEnd + 8, // loads of 8 bytes stay within the 16 zero bytes after the input
    outEnd = dst + <usize>cap;
  let p = src,
    o = dst;
  let bitbuf: u64 = 0,
    bitsleft: u64 = 0;
  let last = false;
  while (!last) {
    if (p > limit) return TRUNCATED;
    bitbuf |= load<u64>(p) << bitsleft;
    p += <usize>((63 - bitsleft) >> 3);
    bitsleft |= 56;
    last = (bitbuf & 1) != 0;
    const type = <u32>(bitbuf >> 1) & 3;
    bitbuf >>= 3;
    bitsleft -= 3;
    let lt = litlen,
      dt = dist;
    if (type == 0) {
      // Stored: to the byte boundary, then LEN and its complement.
      bitsleft -= bitsleft & 7;
      p -= <usize>(bitsleft >> 3);
      bitbuf = 0;
      bitsleft = 0;
      if (p + 4 > inEnd) return TRUNCATED;
      const len = <u32>load<u16>(p),
        nlen = <u32>load<u16>(p + 2);
      if ((len ^ 0xffff) != nlen) return CORRUPT;
      p += 4;
      if (p + len > inEnd) return TRUNCATED;
      if (o + len > outEnd) return TOO_LARGE;
      memory.copy(o, p, len);
      o += len;
      p += len;
      continue;
    } else if (type == 1) {
      if (!fixedBuilt) buildFixed();
      lt = fixedLitlen;
      dt = fixedDist;
    } else if (type == 2) {
      // Dynamic: HLIT, HDIST, HCLEN, the precode's lengths, then the codes' lengths through it.
      const nlit = <u32>(bitbuf & 31) + 257,
        ndist = <u32>((bitbuf >> 5) & 31) + 1,
        nclen = <u32>((bitbuf >> 10) & 15) + 4;
      bitbuf >>= 14;
      bitsleft -= 14;
      if (nlit > 286 || ndist > 30) return CORRUPT;
      for (let i = 0; i < 19; i++) store<u8>(lengths + <usize>PRECODE_ORDER[i], 0);
      for (let i: u32 = 0; i < nclen; i++) {
        if (bitsleft < 3) {
          if (p > limit) return TRUNCATED;
          bitbuf |= load<u64>(p) << bitsleft;
          p += <usize>((63 - bitsleft) >> 3);
          bitsleft |= 56;
        }
        store<u8>(lengths + <usize>PRECODE_ORDER[i], <u8>(bitbuf & 7));
        bitbuf >>= 3;
        bitsleft -= 3;
      }
      if (!build(Table.Precode, precode, PRECODE_BITS, 0, 19)) return CORRUPT;
      const total = nlit + ndist;
      for (let i: u32 = 0; i < total; ) {
        if (bitsleft < 14) {
          if (p > limit) return TRUNCATED;
          bitbuf |= load<u64>(p) << bitsleft;
          p += <usize>((63 - bitsleft) >> 3);
          bitsleft |= 56;
        }
        const e = load<u32>(precode + 4 * <usize>(bitbuf & ((1 << PRECODE_BITS) - 1)));
        if (((e >> 12) & 7) == INVALID) return CORRUPT;
        const len = <u64>(e & 15);
        bitbuf >>= len;
        bitsleft -= len;
        const sym = e >> 16;
        if (sym < 16) {
          store<u8>(lengths + i++, <u8>sym);
          continue;
        }
        let repeat: u32, value: u8;
        if (sym == 16) {
          if (i == 0) return CORRUPT;
          value = load<u8>(lengths + i - 1);
          repeat = 3 + <u32>(bitbuf & 3);
          bitbuf >>= 2;
          bitsleft -= 2;
        } else if (sym == 17) {
          value = 0;
          repeat = 3 + <u32>(bitbuf & 7);
          bitbuf >>= 3;
          bitsleft -= 3;
        } else {
          value = 0;
          repeat = 11 + <u32>(bitbuf & 127);
          bitbuf >>= 7;
          bitsleft -= 7;
        }
        if (i + repeat > total) return CORRUPT;
        memory.fill(lengths + i, value, repeat);
        i += repeat;
      }
      if (load<u8>(lengths + 256) == 0) return CORRUPT; // no end-of-block code
      // The distance code's lengths follow the literal/length code's.
      if (!build(Table.Litlen, litlen, LITLEN_BITS, 0, nlit)) return CORRUPT;
      if (!build(Table.Dist, dist, DIST_BITS, nlit, ndist)) return CORRUPT;
    } else return CORRUPT;

    state.dist = dt;
    state.dst = dst;
    const status = decodeSymbols(lt, outEnd, limit, p, o, bitbuf, bitsleft);
    if (status != 0) return status;
    p = state.p;
    o = state.o;
    bitbuf = state.bitbuf;
    bitsleft = state.bitsleft;
  }
  if (o > outEnd) return TOO_LARGE;
  // What the last block left in the bit buffer beyond its final byte was never used.
  const used = p - <usize>(bitsleft >> 3);
  if (used > inEnd) return TRUNCATED;
  consumedBytes = <i32>(used - src);
  return <i32>(o - dst);
}

/**
 * Copies `length` bytes from `distance` back, 8 at a time; may write up to 23 bytes past the end (the
 * room after the output).
 */
// @ts-ignore: decorator
@inline
function copyMatch(o: usize, distance: usize, length: u32): void {
  const end = o + length;
  if (distance == 1) {
    const v = <u64>load<u8>(o - 1) * 0x0101010101010101;
    do {
      store<u64>(o, v);
      o += 8;
    } while (o < end);
    return;
  }
  let step = distance;
  if (distance < 8) {
    // The run repeats every `distance` bytes, so also every multiple of it: bytes one at a time up to
    // the first multiple of 8 or more, then 8-byte copies from that far back read only written bytes.
    step = distance * ((8 + distance - 1) / distance);
    const head = min(end, o + step);
    do {
      store<u8>(o, load<u8>(o - distance));
      o++;
    } while (o < head);
    if (o >= end) return;
  }
  let from = o - step;
  // Each 8-byte load reads bytes already written: forward copies of overlapping runs come out right.
  // The first 24 bytes without a test (most matches are short, and a loop's exit mispredicts).
  store<u64>(o, load<u64>(from));
  store<u64>(o + 8, load<u64>(from + 8));
  store<u64>(o + 16, load<u64>(from + 16));
  o += 24;
  from += 24;
  while (o < end) {
    store<u64>(o, load<u64>(from));
    o += 8;
    from += 8;
  }
}

/**
 * Where decodeSymbols left the stream (read once a block), and what only its matches use: globals,
 * so that the loop's live values fit in registers.
 */
class State {
  dist: usize = 0;
  dst: usize = 0;
  p: usize = 0;
  o: usize = 0;
  bitbuf: u64 = 0;
  bitsleft: u64 = 0;
}
const state = new State();

/**
 * A block's symbols, to its end-of-block code: returns 0 with the stream's place in `state`, or a
 * fault. (A function of its own, with few live values, so the compiler keeps them in registers.)
 */
function decodeSymbols(lt: usize, outEnd: usize, limit: usize, p: usize, o: usize, bitbuf: u64, bitsleft: u64): i32 {
  // One refill gives 56+ bits: enough for a literal/length code (15), its extra bits (5), a distance
  // code (15) and its extra bits (13), or for three literals. Output runs at most 272 bytes past
  // outEnd before the check at the top of the loop sees it (the room reserved after the output), so
  // single symbols need no check of their own. The loop has one way back, which keeps the bit buffer
  // in a register.
  while (true) {
    if (p > limit) return TRUNCATED;
    if (o > outEnd) return TOO_LARGE;
    bitbuf |= load<u64>(p) << bitsleft;
    p += <usize>((63 - bitsleft) >> 3);
    bitsleft |= 56;
    let e = load<u32>(lt + 4 * <usize>(bitbuf & LITLEN_MASK));
    if ((e & (LITERAL | (7 << 12))) == SUBTABLE << 12) {
      bitbuf >>= LITLEN_BITS;
      bitsleft -= LITLEN_BITS;
      e = load<u32>(lt + 4 * <usize>((e >> 16) + (<u32>bitbuf & ((1 << ((e >> 8) & 15)) - 1))));
    }
    bitbuf >>= <u64>e;
    bitsleft -= <u64>(e & 15);
    if (<i32>e < 0) {
      // Up to two more literals from this refill, each entry looked up before the last is stored.
      const e2 = load<u32>(lt + 4 * <usize>(bitbuf & LITLEN_MASK));
      store<u8>(o++, <u8>(e >> 16));
      if (<i32>e2 < 0) {
        bitbuf >>= <u64>e2;
        bitsleft -= <u64>(e2 & 15);
        const e3 = load<u32>(lt + 4 * <usize>(bitbuf & LITLEN_MASK));
        store<u8>(o++, <u8>(e2 >> 16));
        if (<i32>e3 < 0) {
          bitbuf >>= <u64>e3;
          bitsleft -= <u64>(e3 & 15);
          store<u8>(o++, <u8>(e3 >> 16));
        }
      }
    } else {
      const kind = (e >> 12) & 7;
      if (kind != LENGTH) {
        if (kind != END) return CORRUPT;
        state.p = p;
        state.o = o;
        state.bitbuf = bitbuf;
        state.bitsleft = bitsleft;
        return 0;
      }
      const extra = (e >> 8) & 15;
      const length = (e >> 16) + (<u32>bitbuf & ((1 << extra) - 1));
      bitbuf >>= <u64>extra;
      bitsleft -= <u64>extra;
      const dt = state.dist;
      let d = load<u32>(dt + 4 * <usize>(bitbuf & DIST_MASK));
      if (((d >> 12) & 7) == SUBTABLE) {
        bitbuf >>= DIST_BITS;
        bitsleft -= DIST_BITS;
        d = load<u32>(dt + 4 * <usize>((d >> 16) + (<u32>bitbuf & ((1 << ((d >> 8) & 15)) - 1))));
      }
      if (((d >> 12) & 7) != LENGTH) return CORRUPT;
      bitbuf >>= <u64>d;
      bitsleft -= <u64>(d & 15);
      const dextra = (d >> 8) & 15;
      const distance = <usize>((d >> 16) + (<u32>bitbuf & ((1 << dextra) - 1)));
      bitbuf >>= <u64>dextra;
      bitsleft -= <u64>dextra;
      if (distance > o - state.dst) return CORRUPT; // before the stream's first byte
      copyMatch(o, distance, length);
      o += length;
    }
  }
}
