// Independent checks of triangle meshes for tests: an own reader of legacy fragments, welding of
// fragments by exact position, and topology and geometry written from the definitions.

export interface TestMesh {
  positions: ArrayLike<number>;
  triangles: ArrayLike<number>;
}

/** Legacy fragment: uint32 n, n * 3 float32, then uint32 indices; all little endian. */
export function readFragment(bytes: Uint8Array): { positions: number[]; triangles: number[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0, true);
  const indexBytes = bytes.byteLength - 4 - 12 * n;
  if (indexBytes < 0 || indexBytes % 12 !== 0) throw new Error(`fragment of ${bytes.byteLength} bytes cannot hold ${n} vertices and whole triangles`);
  const positions = Array.from({ length: 3 * n }, (_, i) => view.getFloat32(4 + 4 * i, true));
  const triangles = Array.from({ length: indexBytes / 4 }, (_, i) => view.getUint32(4 + 12 * n + 4 * i, true));
  if (triangles.some((t) => t >= n)) throw new Error('fragment index out of range');
  return { positions, triangles };
}

/** One mesh from several, vertices at the same position merged. */
export function weld(meshes: TestMesh[]): { positions: number[]; triangles: number[] } {
  const index = new Map<string, number>();
  const positions: number[] = [],
    triangles: number[] = [];
  for (const m of meshes) {
    const remap: number[] = [];
    for (let v = 0; v < m.positions.length / 3; v++) {
      const key = `${m.positions[3 * v]},${m.positions[3 * v + 1]},${m.positions[3 * v + 2]}`;
      let i = index.get(key);
      if (i === undefined) {
        i = positions.length / 3;
        index.set(key, i);
        positions.push(m.positions[3 * v], m.positions[3 * v + 1], m.positions[3 * v + 2]);
      }
      remap.push(i);
    }
    for (let t = 0; t < m.triangles.length; t++) triangles.push(remap[m.triangles[t]]);
  }
  return { positions, triangles };
}

/** Directed edges that are not matched by exactly one reverse edge: 0 for a closed, consistently oriented mesh. */
export function openEdges(mesh: TestMesh): number {
  const directed = new Map<string, number>();
  const t = mesh.triangles;
  for (let i = 0; i < t.length; i += 3)
    for (let k = 0; k < 3; k++) {
      const key = `${t[i + k]},${t[i + ((k + 1) % 3)]}`;
      directed.set(key, (directed.get(key) ?? 0) + 1);
    }
  let bad = 0;
  for (const [key, n] of directed) {
    const [a, b] = key.split(',');
    if (n !== 1 || directed.get(`${b},${a}`) !== 1) bad++;
  }
  return bad;
}

/** Vertices whose faces do not form one closed fan (a pinch point, or a vertex with no faces). */
export function nonManifoldVertices(mesh: TestMesh): number {
  const next = new Map<number, Map<number, number>>(); // vertex -> (a -> b) for each face (v, a, b)
  const t = mesh.triangles;
  for (let i = 0; i < t.length; i += 3)
    for (let k = 0; k < 3; k++) {
      const v = t[i + k],
        a = t[i + ((k + 1) % 3)],
        b = t[i + ((k + 2) % 3)];
      if (!next.has(v)) next.set(v, new Map());
      next.get(v)!.set(a, b);
    }
  let bad = mesh.positions.length / 3 - next.size;
  for (const fan of next.values()) {
    let steps = 0;
    const first = fan.keys().next().value as number;
    let a: number | undefined = first;
    do {
      a = fan.get(a!);
      steps++;
    } while (a !== undefined && a !== first && steps <= fan.size);
    if (a !== first || steps !== fan.size) bad++;
  }
  return bad;
}

/** V - E + F: 2 for each closed surface of genus 0. */
export function eulerCharacteristic(mesh: TestMesh): number {
  const edges = new Set<string>();
  const t = mesh.triangles;
  for (let i = 0; i < t.length; i += 3)
    for (let k = 0; k < 3; k++) {
      const a = t[i + k],
        b = t[i + ((k + 1) % 3)];
      edges.add(a < b ? `${a},${b}` : `${b},${a}`);
    }
  return mesh.positions.length / 3 - edges.size + t.length / 3;
}

function corner(mesh: TestMesh, t: number): number[] {
  const v = mesh.triangles[t];
  return [mesh.positions[3 * v], mesh.positions[3 * v + 1], mesh.positions[3 * v + 2]];
}

export function surfaceArea(mesh: TestMesh): number {
  let area = 0;
  for (let i = 0; i < mesh.triangles.length; i += 3) {
    const [a, b, c] = [corner(mesh, i), corner(mesh, i + 1), corner(mesh, i + 2)];
    const u = [b[0] - a[0], b[1] - a[1], b[2] - a[2]],
      w = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
    area += Math.hypot(u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0]) / 2;
  }
  return area;
}

/** Signed volume (divergence theorem): positive when triangles face outward. */
export function signedVolume(mesh: TestMesh): number {
  let v = 0;
  for (let i = 0; i < mesh.triangles.length; i += 3) {
    const [a, b, c] = [corner(mesh, i), corner(mesh, i + 1), corner(mesh, i + 2)];
    v += a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0]) + a[2] * (b[0] * c[1] - b[1] * c[0]);
  }
  return v / 6;
}

/** x-fastest mask of `shape` from a predicate on voxel coordinates. */
export function maskOf(shape: [number, number, number], inside: (x: number, y: number, z: number) => boolean): Uint8Array {
  const data = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (let z = 0; z < shape[2]; z++)
    for (let y = 0; y < shape[1]; y++) for (let x = 0; x < shape[0]; x++) data[x + shape[0] * (y + shape[1] * z)] = inside(x, y, z) ? 1 : 0;
  return data;
}
