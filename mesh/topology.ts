// Vertex adjacency of an indexed triangle mesh (compressed rows: the neighbours of vertex v are
// neighbours[start[v] .. start[v + 1])). Works for open fragments too: both edge directions count.
export interface Adjacency {
  start: Uint32Array;
  neighbours: Uint32Array;
}

export function vertexAdjacency(vertexCount: number, triangles: Uint32Array): Adjacency {
  // Every triangle edge in both directions (a closed mesh lists each neighbour twice), then kept once.
  const start = new Uint32Array(vertexCount + 1);
  for (let i = 0; i < triangles.length; i++) start[triangles[i] + 1] += 2;
  for (let v = 0; v < vertexCount; v++) start[v + 1] += start[v];
  const raw = new Uint32Array(start[vertexCount]);
  const fill = start.slice(0, vertexCount);
  for (let i = 0; i < triangles.length; i += 3)
    for (let k = 0; k < 3; k++) {
      const a = triangles[i + k],
        b = triangles[i + ((k + 1) % 3)];
      raw[fill[a]++] = b;
      raw[fill[b]++] = a;
    }
  const seen = new Int32Array(vertexCount).fill(-1); // seen[n] = v once n is listed for v
  let out = 0;
  for (let v = 0; v < vertexCount; v++) {
    const from = start[v],
      to = start[v + 1];
    start[v] = out;
    for (let j = from; j < to; j++) {
      const n = raw[j];
      if (seen[n] !== v) {
        seen[n] = v;
        raw[out++] = n;
      }
    }
  }
  start[vertexCount] = out;
  return { start, neighbours: raw.subarray(0, out) };
}
