// Marching-cubes tables, generated rather than typed in, with one fixed rule for ambiguous faces (a
// face whose inside corners are diagonal: each inside corner is cut off on its own). The rule depends
// only on the face's four corners, so the two cubes sharing a face always agree and the surface is
// watertight; and loops are cut into triangles with no chord lying in a cube face, so no edge has
// more than two triangles: the surface is manifold too.
//
// Corner i of a cube at (x, y, z) is at (x + dx, y + dy, z + dz) with
//   0 (0,0,0)  1 (1,0,0)  2 (1,1,0)  3 (0,1,0)  4 (0,0,1)  5 (1,0,1)  6 (1,1,1)  7 (0,1,1)
// and bit i of the case index is set when corner i is inside. Edge e joins EDGE_CORNERS[e].

export const CORNERS: readonly (readonly [number, number, number])[] = [
  [0, 0, 0],
  [1, 0, 0],
  [1, 1, 0],
  [0, 1, 0],
  [0, 0, 1],
  [1, 0, 1],
  [1, 1, 1],
  [0, 1, 1],
];

export const EDGE_CORNERS: readonly (readonly [number, number])[] = [
  [0, 1],
  [1, 2],
  [2, 3],
  [3, 0],
  [4, 5],
  [5, 6],
  [6, 7],
  [7, 4],
  [0, 4],
  [1, 5],
  [2, 6],
  [3, 7],
];

// Each face as a cycle of corners, with its outward normal.
const FACES: readonly { corners: readonly number[]; normal: readonly [number, number, number] }[] = [
  { corners: [0, 3, 2, 1], normal: [0, 0, -1] },
  { corners: [4, 5, 6, 7], normal: [0, 0, 1] },
  { corners: [0, 1, 5, 4], normal: [0, -1, 0] },
  { corners: [3, 7, 6, 2], normal: [0, 1, 0] },
  { corners: [0, 4, 7, 3], normal: [-1, 0, 0] },
  { corners: [1, 2, 6, 5], normal: [1, 0, 0] },
];

function edgeBetween(a: number, b: number): number {
  return EDGE_CORNERS.findIndex(([p, q]) => (p === a && q === b) || (p === b && q === a));
}

function midpoint(edge: number): number[] {
  const [a, b] = EDGE_CORNERS[edge];
  return CORNERS[a].map((v, i) => (v + CORNERS[b][i]) / 2);
}

/**
 * The segments the surface draws on one face, each oriented so that, seen from outside the cube, the
 * inside lies to the left: then the segments chain into loops that run the same way round.
 */
function faceSegments(caseIndex: number, face: (typeof FACES)[number]): [number, number][] {
  const inside = (corner: number) => (caseIndex >> corner) & 1;
  const c = face.corners;
  const crossing: number[] = []; // positions k where edge (c[k], c[k+1]) crosses
  for (let k = 0; k < 4; k++) if (inside(c[k]) !== inside(c[(k + 1) % 4])) crossing.push(k);
  const pairs: [number, number][] = [];
  if (crossing.length === 2) pairs.push([crossing[0], crossing[1]]);
  if (crossing.length === 4) {
    // Ambiguous face: cut off each inside corner k, between edges k - 1 and k.
    for (let k = 0; k < 4; k++) if (inside(c[k])) pairs.push([(k + 3) % 4, k]);
  }
  return pairs.map(([p, q]) => {
    const e = edgeBetween(c[p], c[(p + 1) % 4]),
      f = edgeBetween(c[q], c[(q + 1) % 4]);
    // The inside corner nearest the segment tells its side.
    const insideCorner = [c[p], c[(p + 1) % 4], c[q], c[(q + 1) % 4]].find(inside)!;
    const P = midpoint(e),
      Q = midpoint(f),
      I = CORNERS[insideCorner];
    const d = Q.map((v, i) => v - P[i]),
      r = I.map((v, i) => v - P[i]);
    const cross = [d[1] * r[2] - d[2] * r[1], d[2] * r[0] - d[0] * r[2], d[0] * r[1] - d[1] * r[0]];
    const left = cross[0] * face.normal[0] + cross[1] * face.normal[1] + cross[2] * face.normal[2] > 0;
    return left ? [e, f] : [f, e];
  });
}

/** The closed loops of crossed edges for one case; each loop runs the same way round the inside. */
export function caseLoops(caseIndex: number): number[][] {
  const next = new Map<number, number>();
  for (const face of FACES) {
    for (const [from, to] of faceSegments(caseIndex, face)) {
      if (next.has(from)) throw new Error(`marching cubes case ${caseIndex}: edge ${from} starts two segments`);
      next.set(from, to);
    }
  }
  const loops: number[][] = [];
  const seen = new Set<number>();
  for (const start of next.keys()) {
    if (seen.has(start)) continue;
    const loop: number[] = [];
    for (let e = start; !seen.has(e); e = next.get(e)!) {
      seen.add(e);
      loop.push(e);
    }
    loops.push(loop);
  }
  return loops;
}

/** Whether two cube edges bound a common face (a chord between their vertices would lie in it). */
function onOneFace(e: number, f: number): boolean {
  const corners = new Set([...EDGE_CORNERS[e], ...EDGE_CORNERS[f]]);
  return FACES.some((face) => [...corners].every((c) => face.corners.includes(c)));
}

/**
 * A loop's triangles (edge triples, in the loop's winding) with no chord in a cube face. A chord in a
 * face would be a flat triangle edge there; where the neighbouring cube draws one on the same two
 * vertices (an ambiguous face whose two segments both belong to one loop on each side: two outside
 * voxels touching diagonally), four triangles would share that edge and the mesh would not be
 * manifold. Found by search (loops have at most 12 vertices); null if there is none.
 */
function triangulate(loop: number[]): number[][] | null {
  if (loop.length === 3) return [[loop[0], loop[1], loop[2]]];
  for (let i = 0; i < loop.length; i++) {
    const prev = loop[(i + loop.length - 1) % loop.length],
      next = loop[(i + 1) % loop.length];
    if (onOneFace(prev, next)) continue;
    const rest = triangulate(loop.filter((_, j) => j !== i));
    if (rest) return [[prev, loop[i], next], ...rest];
  }
  return null;
}

/**
 * Triangles of each case, as edge triples, wound so that they are counterclockwise seen from outside
 * (the loops run clockwise seen from outside the surface): each loop cut into triangles with no
 * chord in a cube face (triangulate), else fanned from its first edge.
 */
export const CASE_TRIANGLES: readonly (readonly number[])[] = Array.from({ length: 256 }, (_, caseIndex) =>
  caseLoops(caseIndex).flatMap((loop) => (triangulate(loop) ?? loop.slice(1, -1).map((e, i) => [loop[0], e, loop[i + 2]])).flatMap(([a, b, c]) => [a, c, b])),
);

/** Triangle count of each case. */
export const CASE_TRIANGLE_COUNTS: Uint8Array = Uint8Array.from(CASE_TRIANGLES, (t) => t.length / 3);
