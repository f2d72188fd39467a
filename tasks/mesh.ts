// Mesh: one segmentation chunk -> one legacy mesh fragment per label (mesh/chunk-mesher.ts says how
// neighbouring chunks' fragments meet). MeshManifest: a segment's fragments -> its `<id>:<lod>` manifest.
import { meshChunk, meshRegion } from '../mesh/chunk-mesher.js';
import { encodeFragment, fragmentName, manifestName, parseFragmentName } from '../mesh/fragment.js';
import { copyRegion, intersect, parseChunkKey, voxelCount } from '../precomputed/box.js';
import { asLabels } from '../precomputed/dtype.js';
import { assertChunkAligned, scaleIndex } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { checkKey } from '../storage/store.js';
import { MeshManifestTask, MeshTask, TaskResult } from './task.js';

/** The layer's mesh directory (its info's "mesh" key), checked. */
export function meshDirectory(volume: Volume, what: string): string {
  const dir = volume.info.mesh;
  if (volume.info.type !== 'segmentation') throw new Error(`${what}: layer ${volume.url} is of type ${volume.info.type}, meshes need a segmentation`);
  if (typeof dir !== 'string' || dir === '') throw new Error(`${what}: layer ${volume.url} has no "mesh" key in its info (digest plan mesh adds it)`);
  try {
    return checkKey(dir.replace(/\/+$/, ''));
  } catch {
    throw new Error(`${what}: info "mesh" ${JSON.stringify(dir)} must be a relative directory name`);
  }
}

export async function runMesh(task: MeshTask): Promise<TaskResult> {
  const volume = await Volume.open(task.layer_path);
  const dir = meshDirectory(volume, 'Mesh task');
  const { info } = volume;
  if (info.data_type === 'float32') throw new Error(`Mesh task: layer ${volume.url} has data_type float32; labels must be unsigned integers`);
  let mip: number;
  try {
    mip = scaleIndex(info, task.chunk_key);
  } catch (e) {
    throw new Error(`Mesh task: chunk_key ${(e as Error).message}`);
  }
  const scale = volume.scale(mip);
  const chunk = parseChunkKey(task.chunk_position, 'Mesh task: chunk_position');
  assertChunkAligned(scale, chunk, 'Mesh task: chunk_position');
  const bounds = volume.bounds(mip);
  const region = meshRegion(chunk, bounds);
  const inside = intersect(region.readBox, bounds);
  const data = asLabels(await volume.read(mip, inside));
  // Zero outside the volume, so surfaces at the border close.
  const labels = data instanceof BigUint64Array ? new BigUint64Array(voxelCount(region.readBox)) : new Uint32Array(voxelCount(region.readBox));
  copyRegion(data, inside, labels, region.readBox, inside);
  const segments = task.segments && task.segments.length > 0 ? new Set(task.segments.map((s) => BigInt(s))) : undefined;
  const meshes = meshChunk({ labels, region, resolution: scale.resolution, simplification: task.simplification ?? 0, segments });
  const lod = task.lod ?? 0;
  await Promise.all(meshes.map(({ label, mesh }) =>
    volume.store.put(`${dir}/${fragmentName(label, lod, task.chunk_position)}`, encodeFragment(mesh), { gzip: true, contentType: 'application/octet-stream' })));
  const triangles = meshes.reduce((n, m) => n + m.mesh.triangles.length / 3, 0);
  return { kind: 'mesh', voxels: voxelCount(chunk), chunksWritten: 0, files: meshes.length, triangles };
}

export async function runMeshManifest(task: MeshManifestTask): Promise<TaskResult> {
  const volume = await Volume.open(task.layer_path);
  const dir = meshDirectory(volume, 'MeshManifest task');
  const lod = task.lod ?? 0;
  const fragments = new Map<string, string[]>();
  for (const key of await volume.store.list(`${dir}/${task.prefix ?? ''}`)) {
    const name = key.slice(dir.length + 1);
    const parsed = parseFragmentName(name);
    if (!parsed || parsed.lod !== lod) continue;
    const list = fragments.get(parsed.segment) ?? [];
    list.push(name);
    fragments.set(parsed.segment, list);
  }
  await Promise.all([...fragments].map(([segment, names]) =>
    volume.store.put(`${dir}/${manifestName(segment, lod)}`, new TextEncoder().encode(JSON.stringify({ fragments: names.sort() })), { contentType: 'application/json' })));
  return { kind: 'mesh_manifest', voxels: 0, chunksWritten: 0, files: fragments.size };
}
