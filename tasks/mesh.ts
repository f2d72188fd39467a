// Mesh: one segmentation chunk -> one legacy mesh fragment per label (mesh/chunk-mesher.ts says how
// neighbouring chunks' fragments meet). MeshManifest: a segment's fragments -> its `<id>:<lod>` manifest.
import * as v from 'valibot';
import { InvalidInput } from '../common/errors.js';
import { digits, integer } from '../common/schema.js';
import { meshChunk, meshRegion } from '../mesh/chunk-mesher.js';
import { encodeFragment, fragmentName, manifestName, parseFragmentName } from '../mesh/fragment.js';
import { copyRegion, intersect, parseChunkKey, voxelCount } from '../common/box.js';
import { asLabels } from '../common/dtype.js';
import { assertChunkUnion, scaleIndex } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { checkKey, listAll } from '../storage/store.js';
import { boxKey, lod, segments, text } from './fields.js';
import { defineTask, TaskOf } from './kind.js';
import type { TaskContext } from './context.js';

const meshFields = {
  /** The scale's key, e.g. "8_8_40". */
  chunk_key: text,
  /** The whole chunks to mesh, `x0-x1_y0-y1_z0-z1` in voxels of that scale; the fragments are named by it. */
  chunk_position: boxKey,
  /** A segmentation layer whose info has a "mesh" key. */
  layer_path: text,
  /** Level of detail in the fragment names; manifests list lod 0. Default 0. */
  lod: v.optional(lod),
  /** 0 (none) .. 10 (most detail removed). Default 0. */
  simplification: v.optional(integer(0, 10)),
  /** Segment ids to mesh (numbers, or decimal strings for ids above 2^53); empty or absent: all. */
  segments: v.optional(segments),
};
export const mesh = defineTask('mesh', 'Mesh task', meshFields, {
  id: (task) => `mesh:${task.layer_path}:${task.chunk_key}/${task.chunk_position}:${task.lod ?? 0}`,
  async inputs(task, open) {
    const v = await open(task.layer_path);
    const mip = scaleIndex(v.info, task.chunk_key);
    const region = meshRegion(parseChunkKey(task.chunk_position), v.bounds(mip));
    return v.chunkObjects(mip, region.readBox);
  },
  run: runMesh,
});
export type MeshTask = TaskOf<'mesh', typeof meshFields>;

const manifestFields = {
  layer_path: text,
  /** The level of detail whose fragments are listed. Default 0. */
  lod: v.optional(lod),
  /** Decimal digits: only segment ids starting with these (splits the work); empty or absent: all. */
  prefix: v.optional(digits),
};
export const meshManifest = defineTask('mesh_manifest', 'MeshManifest task', manifestFields, {
  id: (task) => `mesh_manifest:${task.layer_path}:${task.lod ?? 0}:${task.prefix ?? ''}`,
  run: runMeshManifest,
});
export type MeshManifestTask = TaskOf<'mesh_manifest', typeof manifestFields>;

/** The layer's mesh directory (its info's "mesh" key), checked. */
export function meshDirectory(volume: Volume, what: string): string {
  const dir = volume.info.mesh;
  if (volume.info.type !== 'segmentation') throw new InvalidInput(`${what}: layer ${volume.url} is of type ${volume.info.type}, meshes need a segmentation`);
  if (typeof dir !== 'string' || dir === '') throw new InvalidInput(`${what}: layer ${volume.url} has no "mesh" key in its info (digest plan mesh adds it)`);
  try {
    return checkKey(dir.replace(/\/+$/, ''));
  } catch {
    throw new InvalidInput(`${what}: info "mesh" ${JSON.stringify(dir)} must be a relative directory name`);
  }
}

async function runMesh(task: MeshTask, ctx: TaskContext) {
  const volume = await ctx.open(task.layer_path);
  const dir = meshDirectory(volume, 'Mesh task');
  const { info } = volume;
  if (info.data_type === 'float32') throw new InvalidInput(`Mesh task: layer ${volume.url} has data_type float32; labels must be unsigned integers`);
  let mip: number;
  try {
    mip = scaleIndex(info, task.chunk_key);
  } catch (e) {
    throw new InvalidInput(`Mesh task: chunk_key ${(e as Error).message}`, { cause: e });
  }
  const scale = volume.scale(mip);
  const chunk = parseChunkKey(task.chunk_position, 'Mesh task: chunk_position');
  assertChunkUnion(scale, chunk, 'Mesh task: chunk_position');
  const bounds = volume.bounds(mip);
  const region = meshRegion(chunk, bounds);
  const inside = intersect(region.readBox, bounds);
  const data = asLabels(await volume.read(mip, inside));
  // Zero outside the volume, so surfaces at the border close.
  const labels = data instanceof BigUint64Array ? new BigUint64Array(voxelCount(region.readBox)) : new Uint32Array(voxelCount(region.readBox));
  copyRegion(data, inside, labels, region.readBox, inside);
  const segments = task.segments && task.segments.length > 0 ? new Set(task.segments.map((s) => BigInt(s))) : undefined;
  const meshes = await meshChunk({ labels, region, resolution: scale.resolution, simplification: task.simplification ?? 0, segments });
  const lod = task.lod ?? 0;
  await Promise.all(
    meshes.map(({ label, mesh }) =>
      volume.store.put(`${dir}/${fragmentName(label, lod, task.chunk_position)}`, encodeFragment(mesh), {
        gzip: true,
        contentType: 'application/octet-stream',
      }),
    ),
  );
  const triangles = meshes.reduce((n, m) => n + m.mesh.triangles.length / 3, 0);
  return { kind: 'mesh', voxels: voxelCount(chunk), chunksWritten: 0, files: meshes.length, triangles };
}

async function runMeshManifest(task: MeshManifestTask, ctx: TaskContext) {
  const volume = await ctx.open(task.layer_path);
  const dir = meshDirectory(volume, 'MeshManifest task');
  const lod = task.lod ?? 0;
  const fragments = new Map<string, string[]>();
  for (const key of await listAll(volume.store, `${dir}/${task.prefix ?? ''}`)) {
    const name = key.slice(dir.length + 1);
    const parsed = parseFragmentName(name);
    if (!parsed || parsed.lod !== lod) continue;
    const list = fragments.get(parsed.segment) ?? [];
    list.push(name);
    fragments.set(parsed.segment, list);
  }
  await Promise.all(
    [...fragments].map(([segment, names]) =>
      volume.store.put(`${dir}/${manifestName(segment, lod)}`, new TextEncoder().encode(JSON.stringify({ fragments: names.sort() })), {
        contentType: 'application/json',
      }),
    ),
  );
  return { kind: 'mesh_manifest', voxels: 0, chunksWritten: 0, files: fragments.size };
}
