// WebAssembly (SIMD) kernels for the hot loops of downsampling, built by `npm run build` with the
// AssemblyScript compiler from the npm registry. They work on one slab in linear memory, at
// pointers the JS side (kernels/wasm.ts) fills; they handle only whole 2x2x2 (or 2x2x1) blocks at
// phase 0, everything else (borders, odd phases) staying with the readable JS kernels in
// kernels/downsample.ts, which tests hold these to. Rounding as there: integer means round half up,
// floor((2 * sum + n) / (2 * n)), i.e. (sum + n/2) / n; float32 means are summed in float64 in the
// order z, y, x; modes take the most frequent label, ties to the smallest.

/** Mean of 2x2 (x, y) pairs of two input slices `a` and `b` (b = a for 2x2x1), for one output slice of ox * oy. */
export function average_u8(a: usize, b: usize, sx: i32, ox: i32, oy: i32, dst: usize, ostride: i32, shift: i32): void {
  const half: u32 = 1 << <u32>(shift - 1);
  const round = i16x8.splat(<i16>half);
  for (let y = 0; y < oy; y++) {
    const r0 = a + <usize>(2 * y * sx), r1 = r0 + <usize>sx;
    const r2 = b + <usize>(2 * y * sx), r3 = r2 + <usize>sx;
    const out = dst + <usize>(y * ostride);
    let x = 0;
    for (; x + 16 <= ox; x += 16) {
      const o = <usize>(2 * x);
      let lo = i16x8.add(i16x8.extadd_pairwise_i8x16_u(v128.load(r0 + o)), i16x8.extadd_pairwise_i8x16_u(v128.load(r1 + o)));
      let hi = i16x8.add(i16x8.extadd_pairwise_i8x16_u(v128.load(r0 + o + 16)), i16x8.extadd_pairwise_i8x16_u(v128.load(r1 + o + 16)));
      if (a != b) {
        lo = i16x8.add(lo, i16x8.add(i16x8.extadd_pairwise_i8x16_u(v128.load(r2 + o)), i16x8.extadd_pairwise_i8x16_u(v128.load(r3 + o))));
        hi = i16x8.add(hi, i16x8.add(i16x8.extadd_pairwise_i8x16_u(v128.load(r2 + o + 16)), i16x8.extadd_pairwise_i8x16_u(v128.load(r3 + o + 16))));
      }
      lo = i16x8.shr_u(i16x8.add(lo, round), shift);
      hi = i16x8.shr_u(i16x8.add(hi, round), shift);
      v128.store(out + <usize>x, i8x16.narrow_i16x8_u(lo, hi));
    }
    for (; x < ox; x++) {
      const o = <usize>(2 * x);
      let s = <u32>load<u8>(r0 + o) + load<u8>(r0 + o + 1) + load<u8>(r1 + o) + load<u8>(r1 + o + 1);
      if (a != b) s += <u32>load<u8>(r2 + o) + load<u8>(r2 + o + 1) + load<u8>(r3 + o) + load<u8>(r3 + o + 1);
      store<u8>(out + <usize>x, <u8>((s + half) >> shift));
    }
  }
}

export function average_u16(a: usize, b: usize, sx: i32, ox: i32, oy: i32, dst: usize, ostride: i32, shift: i32): void {
  const half: u32 = 1 << <u32>(shift - 1);
  const round = i32x4.splat(<i32>half);
  for (let y = 0; y < oy; y++) {
    const r0 = a + <usize>(4 * y * sx), r1 = r0 + <usize>(2 * sx);
    const r2 = b + <usize>(4 * y * sx), r3 = r2 + <usize>(2 * sx);
    const out = dst + <usize>(2 * y * ostride);
    let x = 0;
    for (; x + 8 <= ox; x += 8) {
      const o = <usize>(4 * x);
      let lo = i32x4.add(i32x4.extadd_pairwise_i16x8_u(v128.load(r0 + o)), i32x4.extadd_pairwise_i16x8_u(v128.load(r1 + o)));
      let hi = i32x4.add(i32x4.extadd_pairwise_i16x8_u(v128.load(r0 + o + 16)), i32x4.extadd_pairwise_i16x8_u(v128.load(r1 + o + 16)));
      if (a != b) {
        lo = i32x4.add(lo, i32x4.add(i32x4.extadd_pairwise_i16x8_u(v128.load(r2 + o)), i32x4.extadd_pairwise_i16x8_u(v128.load(r3 + o))));
        hi = i32x4.add(hi, i32x4.add(i32x4.extadd_pairwise_i16x8_u(v128.load(r2 + o + 16)), i32x4.extadd_pairwise_i16x8_u(v128.load(r3 + o + 16))));
      }
      lo = i32x4.shr_u(i32x4.add(lo, round), shift);
      hi = i32x4.shr_u(i32x4.add(hi, round), shift);
      v128.store(out + <usize>(2 * x), i16x8.narrow_i32x4_u(lo, hi));
    }
    for (; x < ox; x++) {
      const o = <usize>(4 * x);
      let s = <u32>load<u16>(r0 + o) + load<u16>(r0 + o + 2) + load<u16>(r1 + o) + load<u16>(r1 + o + 2);
      if (a != b) s += <u32>load<u16>(r2 + o) + load<u16>(r2 + o + 2) + load<u16>(r3 + o) + load<u16>(r3 + o + 2);
      store<u16>(out + <usize>(2 * x), <u16>((s + half) >> shift));
    }
  }
}

/** float32 means, summed in float64 in the order z, y, x (as the JS kernel does), divided by n. */
export function average_f32(a: usize, b: usize, sx: i32, ox: i32, oy: i32, dst: usize, ostride: i32, n: f64): void {
  for (let y = 0; y < oy; y++) {
    const r0 = a + <usize>(8 * y * sx), r1 = r0 + <usize>(4 * sx);
    const r2 = b + <usize>(8 * y * sx), r3 = r2 + <usize>(4 * sx);
    const out = dst + <usize>(4 * y * ostride);
    for (let x = 0; x < ox; x++) {
      const o = <usize>(8 * x);
      let s: f64 = <f64>load<f32>(r0 + o) + <f64>load<f32>(r0 + o + 4) + <f64>load<f32>(r1 + o) + <f64>load<f32>(r1 + o + 4);
      if (a != b) s = s + <f64>load<f32>(r2 + o) + <f64>load<f32>(r2 + o + 4) + <f64>load<f32>(r3 + o) + <f64>load<f32>(r3 + o + 4);
      store<f32>(out + <usize>(4 * x), <f32>(s / n));
    }
  }
}

/** Do all children equal `value`? (One vector test: most blocks of a segmentation are one label.) */
// @ts-ignore: decorator
@inline function uniform<T>(a: v128, b: v128, c: v128, d: v128, value: T): bool {
  if (sizeof<T>() == 8) {
    const s = i64x2.splat(<i64>value);
    return i64x2.all_true(v128.and(v128.and(i64x2.eq(a, s), i64x2.eq(b, s)), v128.and(i64x2.eq(c, s), i64x2.eq(d, s))));
  }
  const s = i32x4.splat(<i32>value);
  return i32x4.all_true(v128.and(i32x4.eq(a, s), i32x4.eq(c, s)));
}

/**
 * Bit i set where child i equals `value`. Children in order (x, y, z fastest first): u64 vectors a, b,
 * c, d hold children 0-1, 2-3, 4-5, 6-7; u32 vectors a and c hold 0-3 and 4-7 (b, d unused).
 */
// @ts-ignore: decorator
@inline function matches<T>(a: v128, b: v128, c: v128, d: v128, value: T): i32 {
  if (sizeof<T>() == 8) {
    const s = i64x2.splat(<i64>value);
    return i64x2.bitmask(i64x2.eq(a, s)) | (i64x2.bitmask(i64x2.eq(b, s)) << 2) | (i64x2.bitmask(i64x2.eq(c, s)) << 4) | (i64x2.bitmask(i64x2.eq(d, s)) << 6);
  }
  const s = i32x4.splat(<i32>value);
  return i32x4.bitmask(i32x4.eq(a, s)) | (i32x4.bitmask(i32x4.eq(c, s)) << 4);
}

/**
 * The most frequent of the 8 (or 4, when b = a) children of each output voxel; ties to the smallest.
 * Vector compares count the first child's label and the first other one: that settles whole blocks
 * and blocks of two labels (most of a segmentation, cells and their boundaries); the rest are sorted
 * by a branch-free sorting network and the longest run taken.
 */
function modeSlice<T>(a: usize, b: usize, sx: i32, ox: i32, oy: i32, dst: usize, ostride: i32): void {
  const size = <usize>sizeof<T>();
  const eight = a != b;
  const all = eight ? 0xff : 0x0f, n = eight ? 8 : 4;
  for (let y = 0; y < oy; y++) {
    const r0 = a + <usize>(2 * y * sx) * size, r1 = r0 + <usize>sx * size;
    const r2 = b + <usize>(2 * y * sx) * size, r3 = r2 + <usize>sx * size;
    const out = dst + <usize>(y * ostride) * size;
    for (let x = 0; x < ox; x++) {
      const o = <usize>(2 * x) * size;
      let va: v128, vb: v128, vc: v128, vd: v128;
      if (sizeof<T>() == 8) {
        va = v128.load(r0 + o); vb = v128.load(r1 + o);
        vc = eight ? v128.load(r2 + o) : va; vd = eight ? v128.load(r3 + o) : vb;
      } else {
        va = i64x2.replace_lane(v128.load64_zero(r0 + o), 1, load<i64>(r1 + o));
        vc = eight ? i64x2.replace_lane(v128.load64_zero(r2 + o), 1, load<i64>(r3 + o)) : va;
        vb = va; vd = vc;
      }
      const first = load<T>(r0 + o);
      if (uniform<T>(va, vb, vc, vd, first)) { store<T>(out + <usize>x * size, first); continue; }
      const m0 = matches<T>(va, vb, vc, vd, first) & all;
      // The first child with another label, and the counts of both labels.
      const i = ctz(~m0);
      const row = (i & 4) ? ((i & 2) ? r3 : r2) : ((i & 2) ? r1 : r0);
      const w = load<T>(row + o + <usize>(i & 1) * size);
      const c0 = popcnt(m0), cw = popcnt(matches<T>(va, vb, vc, vd, w) & all);
      const rest = n - c0 - cw; // children of other labels: none of those can outnumber this
      if (c0 > cw && c0 > rest) { store<T>(out + <usize>x * size, first); continue; }
      if (cw > c0 && cw > rest) { store<T>(out + <usize>x * size, w); continue; }
      if (cw == c0 && c0 > rest) { store<T>(out + <usize>x * size, w < first ? w : first); continue; }
      let v0 = first, v1 = load<T>(r0 + o + size), v2 = load<T>(r1 + o), v3 = load<T>(r1 + o + size);
      let best: T;
      if (!eight) {
        let t: T;
        t = select<T>(v0, v1, v0 < v1); v1 = select<T>(v1, v0, v0 < v1); v0 = t;
        t = select<T>(v2, v3, v2 < v3); v3 = select<T>(v3, v2, v2 < v3); v2 = t;
        t = select<T>(v0, v2, v0 < v2); v2 = select<T>(v2, v0, v0 < v2); v0 = t;
        t = select<T>(v1, v3, v1 < v3); v3 = select<T>(v3, v1, v1 < v3); v1 = t;
        t = select<T>(v1, v2, v1 < v2); v2 = select<T>(v2, v1, v1 < v2); v1 = t;
        best = v0;
        let bestRun = 1, run = 1;
        run = v1 == v0 ? run + 1 : 1; if (run > bestRun) { bestRun = run; best = v1; }
        run = v2 == v1 ? run + 1 : 1; if (run > bestRun) { bestRun = run; best = v2; }
        run = v3 == v2 ? run + 1 : 1; if (run > bestRun) { bestRun = run; best = v3; }
      } else {
        let v4 = load<T>(r2 + o), v5 = load<T>(r2 + o + size), v6 = load<T>(r3 + o), v7 = load<T>(r3 + o + size);
        let t: T;
        // Batcher's odd-even merge sort of 8: 19 compare-exchanges.
        t = select<T>(v0, v1, v0 < v1); v1 = select<T>(v1, v0, v0 < v1); v0 = t;
        t = select<T>(v2, v3, v2 < v3); v3 = select<T>(v3, v2, v2 < v3); v2 = t;
        t = select<T>(v4, v5, v4 < v5); v5 = select<T>(v5, v4, v4 < v5); v4 = t;
        t = select<T>(v6, v7, v6 < v7); v7 = select<T>(v7, v6, v6 < v7); v6 = t;
        t = select<T>(v0, v2, v0 < v2); v2 = select<T>(v2, v0, v0 < v2); v0 = t;
        t = select<T>(v1, v3, v1 < v3); v3 = select<T>(v3, v1, v1 < v3); v1 = t;
        t = select<T>(v4, v6, v4 < v6); v6 = select<T>(v6, v4, v4 < v6); v4 = t;
        t = select<T>(v5, v7, v5 < v7); v7 = select<T>(v7, v5, v5 < v7); v5 = t;
        t = select<T>(v1, v2, v1 < v2); v2 = select<T>(v2, v1, v1 < v2); v1 = t;
        t = select<T>(v5, v6, v5 < v6); v6 = select<T>(v6, v5, v5 < v6); v5 = t;
        t = select<T>(v0, v4, v0 < v4); v4 = select<T>(v4, v0, v0 < v4); v0 = t;
        t = select<T>(v1, v5, v1 < v5); v5 = select<T>(v5, v1, v1 < v5); v1 = t;
        t = select<T>(v2, v6, v2 < v6); v6 = select<T>(v6, v2, v2 < v6); v2 = t;
        t = select<T>(v3, v7, v3 < v7); v7 = select<T>(v7, v3, v3 < v7); v3 = t;
        t = select<T>(v2, v4, v2 < v4); v4 = select<T>(v4, v2, v2 < v4); v2 = t;
        t = select<T>(v3, v5, v3 < v5); v5 = select<T>(v5, v3, v3 < v5); v3 = t;
        t = select<T>(v1, v2, v1 < v2); v2 = select<T>(v2, v1, v1 < v2); v1 = t;
        t = select<T>(v3, v4, v3 < v4); v4 = select<T>(v4, v3, v3 < v4); v3 = t;
        t = select<T>(v5, v6, v5 < v6); v6 = select<T>(v6, v5, v5 < v6); v5 = t;
        best = v0;
        let bestRun = 1, run = 1;
        run = v1 == v0 ? run + 1 : 1; if (run > bestRun) { bestRun = run; best = v1; }
        run = v2 == v1 ? run + 1 : 1; if (run > bestRun) { bestRun = run; best = v2; }
        run = v3 == v2 ? run + 1 : 1; if (run > bestRun) { bestRun = run; best = v3; }
        run = v4 == v3 ? run + 1 : 1; if (run > bestRun) { bestRun = run; best = v4; }
        run = v5 == v4 ? run + 1 : 1; if (run > bestRun) { bestRun = run; best = v5; }
        run = v6 == v5 ? run + 1 : 1; if (run > bestRun) { bestRun = run; best = v6; }
        run = v7 == v6 ? run + 1 : 1; if (run > bestRun) { bestRun = run; best = v7; }
      }
      store<T>(out + <usize>x * size, best);
    }
  }
}

export function mode_u32(a: usize, b: usize, sx: i32, ox: i32, oy: i32, dst: usize, ostride: i32): void {
  modeSlice<u32>(a, b, sx, ox, oy, dst, ostride);
}

export function mode_u64(a: usize, b: usize, sx: i32, ox: i32, oy: i32, dst: usize, ostride: i32): void {
  modeSlice<u64>(a, b, sx, ox, oy, dst, ostride);
}

/**
 * Decodes one channel of a compressed_segmentation chunk (words at `src`, `n` of them; the channel's
 * block headers at word `start`) into `out` (x-fastest, `w` words per voxel: 1 for uint32, 2 for
 * uint64). Returns 0, or 1 when the data is corrupt (the JS decoder then says where).
 */
export function decode_cseg(src: usize, n: i32, start: i32, sx: i32, sy: i32, sz: i32, bx: i32, by: i32, bz: i32, w: i32, out: usize): i32 {
  const gx = (sx + bx - 1) / bx, gy = (sy + by - 1) / by, gz = (sz + bz - 1) / bz;
  if (<i64>start + 2 * <i64>gx * gy * gz > <i64>n) return 1;
  const rowStride = <usize>sx * w * 4, sliceStride = rowStride * <usize>sy;
  for (let z = 0; z < gz; z++) for (let y = 0; y < gy; y++) for (let x = 0; x < gx; x++) {
    const h = src + (<usize>start + 2 * <usize>(x + gx * (y + gy * z))) * 4;
    const header = load<u32>(h);
    const tableAt = start + <i32>(header & 0xffffff), bits = <i32>(header >>> 24);
    const valuesAt = <i64>start + load<u32>(h + 4);
    if (bits > 32 || (bits & (bits - 1)) != 0) return 1;
    if (valuesAt + ((<i64>bits * bx * by * bz + 31) >> 5) > <i64>n) return 1;
    const x0 = x * bx, y0 = y * by, z0 = z * bz;
    const ex = min(bx, sx - x0), ey = min(by, sy - y0), ez = min(bz, sz - z0);
    const lastIndex = (n - tableAt) / w - 1; // a lookup past it runs off the end
    const table = src + <usize>tableAt * 4;
    const base = out + <usize>x0 * w * 4 + <usize>y0 * rowStride + <usize>z0 * sliceStride;
    if (bits == 0) {
      if (lastIndex < 0) return 1;
      for (let vz = 0; vz < ez; vz++) for (let vy = 0; vy < ey; vy++) {
        let o = base + <usize>vy * rowStride + <usize>vz * sliceStride;
        if (w == 2) {
          const v = load<u64>(table);
          for (let vx = 0; vx < ex; vx++, o += 8) store<u64>(o, v);
        } else {
          const v = load<u32>(table);
          for (let vx = 0; vx < ex; vx++, o += 4) store<u32>(o, v);
        }
      }
      continue;
    }
    const mask: u32 = bits == 32 ? 0xffffffff : (1 << bits) - 1;
    const values = src + <usize>valuesAt * 4;
    for (let vz = 0; vz < ez; vz++) for (let vy = 0; vy < ey; vy++) {
      const bit = bits * bx * (vy + by * vz);
      let at = values + <usize>(bit >>> 5) * 4, shift = bit & 31;
      let word = load<u32>(at) >>> shift;
      let o = base + <usize>vy * rowStride + <usize>vz * sliceStride;
      for (let vx = 0; vx < ex; vx++) {
        const idx = word & mask;
        if (idx > <u32>lastIndex || lastIndex < 0) return 1;
        if (w == 2) { store<u64>(o, load<u64>(table + <usize>idx * 8)); o += 8; }
        else { store<u32>(o, load<u32>(table + <usize>idx * 4)); o += 4; }
        shift += bits;
        if (shift == 32) { at += 4; word = load<u32>(at); shift = 0; } else word >>>= bits;
      }
    }
  }
  return 0;
}

/** Where static data ends: the JS side puts its buffers above it. */
export function heap_base(): usize {
  return __heap_base;
}
