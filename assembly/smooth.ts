// Taubin smoothing's umbrella steps (mesh/smooth.ts, whose plain loop is the reference tests hold this
// to, bit for bit: the same float64 operations in the same order). The JS side (wasm/kernels.ts)
// puts a mesh's positions, pins and adjacency in linear memory and takes the positions back.

const FREE: u8 = 0,
  PINNED: u8 = 1,
  SLIDE_X: u8 = 2;

/**
 * `iterations` pairs of steps (factor lambda, then mu) over n vertices: positions p (3 f64 a vertex)
 * and q (scratch of the same size); pins (u8 a vertex); adjacency start (n + 1 i32) into neighbours
 * (i32); contour (2 i32 a vertex, for sliding vertices). The result ends in p.
 */
export function taubin_smooth(p: usize, q: usize, pins: usize, start: usize, neighbours: usize, contour: usize, n: i32, lambda: f64, mu: f64, iterations: i32, contourWeight: f64): void {
  for (let i = 0; i < iterations; i++) {
    umbrella(p, q, lambda, pins, start, neighbours, contour, n, contourWeight);
    umbrella(q, p, mu, pins, start, neighbours, contour, n, contourWeight);
  }
}

// @ts-ignore: decorator
@inline
function at(base: usize, i: i32): f64 {
  return load<f64>(base + (<usize>i << 3));
}

// @ts-ignore: decorator
@inline
function put(base: usize, i: i32, x: f64): void {
  store<f64>(base + (<usize>i << 3), x);
}

function umbrella(p: usize, q: usize, factor: f64, pins: usize, start: usize, neighbours: usize, contour: usize, n: i32, contourWeight: f64): void {
  for (let v = 0; v < n; v++) {
    const pin = load<u8>(pins + <usize>v),
      o = 3 * v;
    const px = at(p, o),
      py = at(p, o + 1),
      pz = at(p, o + 2);
    if (pin == FREE) {
      const s = load<i32>(start + (<usize>v << 2)),
        e = load<i32>(start + (<usize>(v + 1) << 2));
      if (e == s) {
        put(q, o, px);
        put(q, o + 1, py);
        put(q, o + 2, pz);
        continue;
      }
      let x: f64 = 0,
        y: f64 = 0,
        z: f64 = 0;
      for (let j = s; j < e; j++) {
        const u = 3 * load<i32>(neighbours + (<usize>j << 2));
        x += at(p, u);
        y += at(p, u + 1);
        z += at(p, u + 2);
      }
      const k = 1 / <f64>(e - s);
      put(q, o, px + factor * (x * k - px));
      put(q, o + 1, py + factor * (y * k - py));
      put(q, o + 2, pz + factor * (z * k - pz));
    } else if (pin == PINNED) {
      put(q, o, px);
      put(q, o + 1, py);
      put(q, o + 2, pz);
    } else {
      const a = 3 * load<i32>(contour + (<usize>(2 * v) << 2)),
        b = 3 * load<i32>(contour + (<usize>(2 * v + 1) << 2)),
        across = <i32>(pin - SLIDE_X),
        w = factor * contourWeight;
      put(q, o, across == 0 ? px : px + w * ((at(p, a) + at(p, b)) * 0.5 - px));
      put(q, o + 1, across == 1 ? py : py + w * ((at(p, a + 1) + at(p, b + 1)) * 0.5 - py));
      put(q, o + 2, across == 2 ? pz : pz + w * ((at(p, a + 2) + at(p, b + 2)) * 0.5 - pz));
    }
  }
}
