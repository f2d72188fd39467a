// Independent reference for mean-affinity agglomeration (affinities/agglomerate.ts): regions as sets of
// labels, merged one at a time, the best pair recomputed each time from the original edges: highest
// exact mean (bigint sums cross-multiplied), then the smallest original label pair among its edges;
// merged while the mean is above 1 - t exactly. Slow, plain and written apart from the engine.

export interface ExactEdge {
  a: bigint;
  b: bigint;
  /** The affinity sum in units of 2^-32. */
  units: bigint;
  count: bigint;
}

/** label -> region (its smallest label) for the labels that change. */
export function bruteForceAgglomeration(original: Iterable<ExactEdge>, t: number): Map<bigint, bigint> {
  const edges = [...original];
  // 1 - t as an exact fraction num / 2^k.
  let num = 1 - t,
    k = 0;
  while (!Number.isInteger(num)) ((num *= 2), k++);
  const floorNum = BigInt(num);
  const regionOf = new Map<bigint, bigint>();
  for (const e of edges) regionOf.set(e.a, e.a).set(e.b, e.b);
  for (;;) {
    const between = new Map<string, { a: bigint; b: bigint; units: bigint; count: bigint; tie: [bigint, bigint] }>();
    for (const e of edges) {
      const [ra, rb] = [regionOf.get(e.a)!, regionOf.get(e.b)!];
      if (ra === rb) continue;
      const [a, b] = ra < rb ? [ra, rb] : [rb, ra];
      const x = between.get(`${a},${b}`) ?? { a, b, units: 0n, count: 0n, tie: [e.a, e.b] as [bigint, bigint] };
      x.units += e.units;
      x.count += e.count;
      if (e.a < x.tie[0] || (e.a === x.tie[0] && e.b < x.tie[1])) x.tie = [e.a, e.b];
      between.set(`${a},${b}`, x);
    }
    let best: { a: bigint; b: bigint; units: bigint; count: bigint; tie: [bigint, bigint] } | undefined;
    for (const x of between.values()) {
      if (!best) {
        best = x;
        continue;
      }
      const l = x.units * best.count,
        r = best.units * x.count;
      if (l > r || (l === r && (x.tie[0] < best.tie[0] || (x.tie[0] === best.tie[0] && x.tie[1] < best.tie[1])))) best = x;
    }
    // mean > floor  <=>  units / 2^32 / count > num / 2^k  <=>  units * 2^k > num * count * 2^32
    const lhs = best ? best.units << BigInt(k) : 0n;
    if (!best || !(lhs > (floorNum * best.count) << 32n)) break;
    const into = best.a,
      from = best.b;
    for (const [l, r] of regionOf) if (r === from) regionOf.set(l, into);
  }
  return new Map([...regionOf].filter(([l, r]) => l !== r));
}

/** The region graph from every voxel edge of a volume (x fastest; affinities channel-major), by brute force. */
export function voxelEdges(labels: BigUint64Array, affinities: Float32Array, [sx, sy, sz]: [number, number, number]): ExactEdge[] {
  const n = sx * sy * sz;
  const edges = new Map<string, ExactEdge>();
  for (let z = 0; z < sz; z++)
    for (let y = 0; y < sy; y++)
      for (let x = 0; x < sx; x++) {
        const v = x + sx * (y + sy * z);
        [
          [x, 1],
          [y, sx],
          [z, sx * sy],
        ].forEach(([coord, step], c) => {
          if (coord === 0) return;
          const p = labels[v],
            q = labels[v - step];
          if (p === 0n || q === 0n || p === q) return;
          const [a, b] = p < q ? [p, q] : [q, p];
          const e = edges.get(`${a},${b}`) ?? { a, b, units: 0n, count: 0n };
          e.units += BigInt(Math.round(affinities[c * n + v] * 2 ** 32));
          e.count += 1n;
          edges.set(`${a},${b}`, e);
        });
      }
  return [...edges.values()];
}
