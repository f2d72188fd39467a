// Growing a typed array: the arrays of a table that grows as it fills (edges, candidates, pair sums).

type Typed = Int32Array | Uint32Array | Float64Array | Uint8Array;

/** A copy of `a` with room for `length` elements (the new ones zero). */
export function grown<T extends Typed>(a: T, length: number): T {
  const b = new (a.constructor as new (n: number) => T)(length);
  b.set(a);
  return b;
}
