// Neuroglancer's legacy (single-resolution) mesh format: a fragment is
//   uint32 vertex count, float32 x y z per vertex, uint32 vertex indices (3 per triangle),
// all little endian, vertices in nm. A manifest `<segment id>:<lod>` lists a segment's fragments as
// JSON {"fragments": [names]}; names are relative to the mesh directory.
import { IndexedMesh } from './marching-cubes.js';

export const LEGACY_MESH_INFO = { '@type': 'neuroglancer_legacy_mesh' };

export function encodeFragment(mesh: IndexedMesh): Uint8Array {
  const vertices = mesh.positions.length / 3;
  const bytes = new Uint8Array(4 + 4 * mesh.positions.length + 4 * mesh.triangles.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, vertices, true);
  let o = 4;
  for (const p of mesh.positions) {
    view.setFloat32(o, p, true);
    o += 4;
  }
  for (const t of mesh.triangles) {
    view.setUint32(o, t, true);
    o += 4;
  }
  return bytes;
}

/** The fragment of `segment` at `lod` written by the Mesh task of chunk `chunkPosition`. */
export function fragmentName(segment: bigint | string, lod: number, chunkPosition: string): string {
  return `${segment}:${lod}:${chunkPosition}`;
}

/** Parses a fragment name back; null for anything else in the mesh directory (info, manifests). */
export function parseFragmentName(name: string): { segment: string; lod: number; chunkPosition: string } | null {
  const m = /^([1-9]\d*):(\d+):([^:/]+)$/.exec(name);
  return m ? { segment: m[1], lod: Number(m[2]), chunkPosition: m[3] } : null;
}

export function manifestName(segment: bigint | string, lod: number): string {
  return `${segment}:${lod}`;
}
