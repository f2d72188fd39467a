// Huffman-only DEFLATE (RFC 1951): one dynamic block whose literal code is built from the input's
// byte histogram, no string matching. On noisy EM images that is all any deflate level achieves
// (zlib's levels 1-9 and libdeflate's all leave ~90%), and it runs several times faster than zlib's
// own Huffman-only mode. The JS side (kernels/wasm.ts) wraps the stream in gzip; tests decode it
// with node:zlib.

const MAX_LITERAL_BITS = 15;
const MAX_LENGTH_BITS = 7; // the code-length code's limit

// Static scratch: 4 histograms (unrolled counting), symbol tables, sort buffers.
const histograms = memory.data(4 * 256 * 4);
const freq = memory.data(288 * 4);
const lengths = memory.data(288);
const encoding = memory.data(288 * 4); // per symbol: reversed code | length << 16
const order = memory.data(288 * 4);
const keys = memory.data(288 * 8);
const keys2 = memory.data(288 * 8);
const work = memory.data(288 * 4);
const counts = memory.data(32 * 4);
const nextCode = memory.data(32 * 4);
const LENGTH_ORDER: StaticArray<u8> = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

// @ts-ignore: decorator
@inline function A(i: i32): i32 { return load<i32>(work + (<usize>i << 2)); }
// @ts-ignore: decorator
@inline function setA(i: i32, v: i32): void { store<i32>(work + (<usize>i << 2), v); }

/**
 * Length-limited Huffman code lengths for symbols 0..n-1 of `freq` (at least two nonzero) into
 * `lengths`: Moffat and Katajainen's in-place algorithm on the frequencies sorted ascending, then
 * lengths over `limit` folded back as zlib and miniz do (Kraft sum kept exactly 1).
 */
function buildLengths(n: i32, limit: i32): void {
  // Symbols with a frequency, sorted by (frequency, symbol): keys frequency << 16 | symbol, merge sorted.
  let used = 0;
  for (let s = 0; s < n; s++) {
    store<u8>(lengths + s, 0);
    const f = load<u32>(freq + (s << 2));
    if (f) store<u64>(keys + (<usize>(used++) << 3), (<u64>f << 16) | <u64>s);
  }
  let from = keys, to = keys2;
  for (let width = 1; width < used; width <<= 1) {
    for (let lo = 0; lo < used; lo += 2 * width) {
      const mid = min(lo + width, used), hi = min(lo + 2 * width, used);
      let i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        const x = load<u64>(from + (<usize>i << 3)), y = load<u64>(from + (<usize>j << 3));
        if (x <= y) { store<u64>(to + (<usize>(k++) << 3), x); i++; } else { store<u64>(to + (<usize>(k++) << 3), y); j++; }
      }
      while (i < mid) store<u64>(to + (<usize>(k++) << 3), load<u64>(from + (<usize>(i++) << 3)));
      while (j < hi) store<u64>(to + (<usize>(k++) << 3), load<u64>(from + (<usize>(j++) << 3)));
    }
    const t = from; from = to; to = t;
  }
  for (let i = 0; i < used; i++) store<i32>(order + (i << 2), <i32>(load<u64>(from + (<usize>i << 3)) & 0xffff));
  for (let i = 0; i < used; i++) setA(i, <i32>load<u32>(freq + (load<i32>(order + (i << 2)) << 2)));
  // Moffat-Katajainen: A[i] becomes the code length of the i-th least frequent symbol.
  setA(0, A(0) + A(1));
  let root = 0, leaf = 2;
  for (let next = 1; next < used - 1; next++) {
    if (leaf >= used || A(root) < A(leaf)) { setA(next, A(root)); setA(root++, next); } else setA(next, A(leaf++));
    if (leaf >= used || (root < next && A(root) < A(leaf))) { setA(next, A(next) + A(root)); setA(root++, next); } else setA(next, A(next) + A(leaf++));
  }
  setA(used - 2, 0);
  for (let next = used - 3; next >= 0; next--) setA(next, A(A(next)) + 1);
  let avail = 1, taken = 0, depth = 0;
  root = used - 2;
  let next = used - 1;
  while (avail > 0) {
    while (root >= 0 && A(root) == depth) { taken++; root--; }
    while (avail > taken) { setA(next--, depth); avail--; }
    avail = 2 * taken; depth++; taken = 0;
  }
  // Count codes per length; fold lengths over the limit (miniz's enforce_max_code_size).
  for (let l = 0; l <= 31; l++) store<i32>(counts + (l << 2), 0);
  for (let i = 0; i < used; i++) {
    const l = min(A(i), 31);
    store<i32>(counts + (l << 2), load<i32>(counts + (l << 2)) + 1);
  }
  let over = 0;
  for (let l = limit + 1; l <= 31; l++) { over += load<i32>(counts + (l << 2)); store<i32>(counts + (l << 2), 0); }
  store<i32>(counts + (limit << 2), load<i32>(counts + (limit << 2)) + over);
  let total: u32 = 0;
  for (let l = limit; l > 0; l--) total += (<u32>load<i32>(counts + (l << 2))) << (limit - l);
  while (total != (<u32>1) << limit) {
    store<i32>(counts + (limit << 2), load<i32>(counts + (limit << 2)) - 1);
    for (let l = limit - 1; l > 0; l--) {
      if (load<i32>(counts + (l << 2)) != 0) {
        store<i32>(counts + (l << 2), load<i32>(counts + (l << 2)) - 1);
        store<i32>(counts + ((l + 1) << 2), load<i32>(counts + ((l + 1) << 2)) + 2);
        break;
      }
    }
    total--;
  }
  // The least frequent symbols take the longest codes.
  let i = 0;
  for (let l = limit; l > 0; l--) {
    for (let c = load<i32>(counts + (l << 2)); c > 0; c--) store<u8>(lengths + load<i32>(order + (i++ << 2)), <u8>l);
  }
}

/** Canonical codes (RFC 1951 3.2.2) for `lengths` of n symbols, bit-reversed for LSB-first output. */
function buildCodes(n: i32): void {
  for (let l = 0; l < 32; l++) store<i32>(counts + (l << 2), 0);
  for (let s = 0; s < n; s++) {
    const l = <i32>load<u8>(lengths + s);
    if (l) store<i32>(counts + (l << 2), load<i32>(counts + (l << 2)) + 1);
  }
  let code = 0;
  for (let l = 1; l < 32; l++) {
    code = (code + load<i32>(counts + ((l - 1) << 2))) << 1;
    store<i32>(nextCode + (l << 2), code);
  }
  for (let s = 0; s < n; s++) {
    const l = <i32>load<u8>(lengths + s);
    if (!l) { store<u32>(encoding + (s << 2), 0); continue; }
    const c = load<i32>(nextCode + (l << 2));
    store<i32>(nextCode + (l << 2), c + 1);
    let reversed = 0;
    for (let b = 0; b < l; b++) reversed |= ((c >> b) & 1) << (l - 1 - b);
    store<u32>(encoding + (s << 2), <u32>reversed | (<u32>l << 16));
  }
}

/** Makes sure at least two symbols of 0..n-1 have a frequency (a Huffman code needs two). */
function atLeastTwo(n: i32): void {
  let nonzero = 0;
  for (let s = 0; s < n; s++) if (load<u32>(freq + (s << 2))) nonzero++;
  for (let s = 0; s < n && nonzero < 2; s++) {
    if (!load<u32>(freq + (s << 2))) { store<u32>(freq + (s << 2), 1); nonzero++; }
  }
}

// The bit writer's state, across blocks.
let out: usize = 0;
let acc: u64 = 0;
let bits: u32 = 0;

// @ts-ignore: decorator
@inline function put(code: u32, length: u32): void {
  acc |= (<u64>code) << bits; bits += length;
  if (bits >= 32) { store<u32>(out, <u32>acc); out += 4; acc >>= 32; bits -= 32; }
}

/** Input per block: each block's code fits its own stretch of the chunk (as zlib's blocks do). */
const BLOCK = 1 << 15;

/** Compresses `n` bytes at `src` into a raw DEFLATE stream at `dst` (room for 2n + 1024); returns its length. */
export function huffman_deflate(src: usize, n: i32, dst: usize): i32 {
  out = dst; acc = 0; bits = 0;
  let start = 0;
  do {
    const length = min(BLOCK, n - start);
    block(src + start, length, start + length == n);
    start += length;
  } while (start < n);
  while (bits > 0) { store<u8>(out, <u8>acc); out++; acc >>= 8; bits = bits > 8 ? bits - 8 : 0; }
  return <i32>(out - dst);
}

function block(src: usize, n: i32, final: bool): void {
  // Byte histogram, four interleaved tables so that repeated bytes do not wait on one counter.
  memory.fill(histograms, 0, 4 * 256 * 4);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const w = load<u32>(src + i);
    const h0 = histograms + ((w & 0xff) << 2), h1 = histograms + 1024 + (((w >> 8) & 0xff) << 2);
    const h2 = histograms + 2048 + (((w >> 16) & 0xff) << 2), h3 = histograms + 3072 + ((w >> 24) << 2);
    store<u32>(h0, load<u32>(h0) + 1); store<u32>(h1, load<u32>(h1) + 1);
    store<u32>(h2, load<u32>(h2) + 1); store<u32>(h3, load<u32>(h3) + 1);
  }
  for (; i < n; i++) { const h = histograms + (<usize>load<u8>(src + i) << 2); store<u32>(h, load<u32>(h) + 1); }
  for (let s = 0; s < 256; s++) {
    const o = s << 2;
    store<u32>(freq + o, load<u32>(histograms + o) + load<u32>(histograms + 1024 + o) + load<u32>(histograms + 2048 + o) + load<u32>(histograms + 3072 + o));
  }
  store<u32>(freq + (256 << 2), 1); // end of block
  atLeastTwo(257);
  buildLengths(257, MAX_LITERAL_BITS);
  // 257 literal/length code lengths, then one distance code of length 1 (none is used; zlib accepts
  // a lone one-bit distance code).
  const literalLengths = memory.data(258);
  memory.copy(literalLengths, lengths, 257);
  store<u8>(literalLengths + 257, 1);
  // The code-length code: Huffman over the 258 lengths (values 0..15, no run-length symbols).
  for (let s = 0; s < 19; s++) store<u32>(freq + (s << 2), 0);
  for (let s = 0; s < 258; s++) { const o = <usize>load<u8>(literalLengths + s) << 2; store<u32>(freq + o, load<u32>(freq + o) + 1); }
  atLeastTwo(19);
  buildLengths(19, MAX_LENGTH_BITS);
  buildCodes(19);
  const lengthEncoding = memory.data(19 * 4);
  memory.copy(lengthEncoding, encoding, 19 * 4);
  const lengthLengths = memory.data(19);
  memory.copy(lengthLengths, lengths, 19);
  memory.copy(lengths, literalLengths, 257);
  buildCodes(257);

  // Header: BFINAL, BTYPE 2 (dynamic), HLIT 257-257, HDIST 1-1, HCLEN 19-4.
  put((final ? 1 : 0) | (2 << 1) | (15 << 13), 17);
  for (let k = 0; k < 19; k++) put(load<u8>(lengthLengths + LENGTH_ORDER[k]), 3);
  for (let s = 0; s < 258; s++) {
    const e = load<u32>(lengthEncoding + (<usize>load<u8>(literalLengths + s) << 2));
    put(e & 0xffff, e >> 16);
  }
  // The data, the writer's state in locals: whole bytes of the accumulator are stored after each
  // step (an 8-byte store, of which the whole bytes count), leaving at most 7 bits, so a step can add
  // three codes of up to 15 bits without overflowing 64.
  let a = acc, b = bits, o = out;
  store<u64>(o, a); o += b >> 3; a >>= <u64>(b & 56); b &= 7;
  i = 0;
  for (; i + 3 <= n; i += 3) {
    const e0 = load<u32>(encoding + (<usize>load<u8>(src + i) << 2));
    const e1 = load<u32>(encoding + (<usize>load<u8>(src + i + 1) << 2));
    const e2 = load<u32>(encoding + (<usize>load<u8>(src + i + 2) << 2));
    a |= (<u64>(e0 & 0xffff)) << b; b += e0 >> 16;
    a |= (<u64>(e1 & 0xffff)) << b; b += e1 >> 16;
    a |= (<u64>(e2 & 0xffff)) << b; b += e2 >> 16;
    store<u64>(o, a); o += b >> 3; a >>= <u64>(b & 56); b &= 7;
  }
  acc = a; bits = b; out = o;
  for (; i < n; i++) {
    const e = load<u32>(encoding + (<usize>load<u8>(src + i) << 2));
    put(e & 0xffff, e >> 16);
  }
  const eob = load<u32>(encoding + (256 << 2));
  put(eob & 0xffff, eob >> 16);
}
