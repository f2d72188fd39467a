// Multi-resolution meshes end to end: plan mesh --format multires's stages run on a segmentation on
// disk, then every lod of every segment read back by the independent reader (test/multires-reader.ts:
// its own manifest parser, draco3d's decoder, the test shard reader) and checked from the definitions.
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Vec3 } from '../common/box.js';
import { allChunks, createInfo, scaleBounds } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { runPlan } from '../queue/local/run.js';
import { eulerCharacteristic, nonManifoldVertices, openEdges, surfaceArea, weld } from '../test/mesh-check.js';
import { ReadFragment, readSegmentMesh } from '../test/multires-reader.js';
import { planMultiresMesh } from './plan/planners.js';
import { runTask } from './registry.js';

const inProcess = { concurrency: 2, progress: false, retryDelayMs: 1 };

/** A uint32 segmentation on file:// holding label(x, y, z), meshed by the multires plan. */
async function meshed(
  opts: { size: Vec3; chunk: Vec3; offset?: Vec3; shardBits?: number; forgeBlock?: number; batches?: number; gatherBlock?: number },
  label: (x: number, y: number, z: number) => number,
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'digest-multires-'));
  const url = `file://${dir}`;
  const info = createInfo({
    type: 'segmentation',
    dataType: 'uint32',
    encoding: 'raw',
    size: opts.size,
    chunkSize: opts.chunk,
    voxelOffset: opts.offset ?? [0, 0, 0],
    resolution: [4, 4, 40],
    mips: 0,
  });
  const volume = await Volume.create(url, info);
  const bounds = scaleBounds(info.scales[0]);
  const data = new Uint32Array(opts.size[0] * opts.size[1] * opts.size[2]);
  let i = 0;
  for (let z = bounds.start[2]; z < bounds.stop[2]; z++)
    for (let y = bounds.start[1]; y < bounds.stop[1]; y++) for (let x = bounds.start[0]; x < bounds.stop[0]; x++) data[i++] = label(x, y, z);
  await volume.writeChunks(0, allChunks(info.scales[0]), data, bounds);
  const plan = await planMultiresMesh({
    layerPath: url,
    shardBits: opts.shardBits,
    forgeBlock: opts.forgeBlock,
    batches: opts.batches,
    gatherBlock: opts.gatherBlock,
  });
  expect(
    plan.stages.some((s) => s.name === 'mesh gather'),
    'a gather stage',
  ).toBe(!!opts.gatherBlock);
  const summary = await runPlan(plan, runTask, inProcess);
  expect(summary.dead.map((d) => JSON.stringify(d).slice(0, 600))).toEqual([]);
  return join(dir, 'mesh');
}

/** A mesh directory's files and those of its segment_properties, not the forge intermediates. */
async function outputs(meshDir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const name of (await readdir(meshDir)).sort()) if (name !== 'forge') files.set(name, await readFile(join(meshDir, name)));
  files.set('segment_properties/info', await readFile(join(meshDir, '..', 'segment_properties', 'info')));
  return files;
}

const ball = (r: number, c: number[]) => (x: number, y: number, z: number) => (x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2 <= r * r;

/** A lod's fragments welded into one mesh of stored-model (voxel) positions. */
const lodMesh = (fragments: ReadFragment[], lod: number) =>
  weld(fragments.filter((f) => f.lod === lod).map((f) => ({ positions: f.stored, triangles: f.triangles })));

/** Triangles with two vertices on one stored position. */
const degenerateTriangles = (f: ReadFragment) => {
  const key = (v: number) => Array.from(f.stored.subarray(3 * v, 3 * v + 3)).join(',');
  let n = 0;
  for (let t = 0; t < f.triangles.length; t += 3) if (new Set([0, 1, 2].map((k) => key(f.triangles[t + k]))).size < 3) n++;
  return n;
};

const triangleCount = (fragments: ReadFragment[], lod: number) => fragments.filter((f) => f.lod === lod).reduce((n, f) => n + f.triangles.length / 3, 0);

/** Triangles of a lod > 0 fragment whose vertices do not share one cell of its node's 2x2x2 split (within `tolerance`). */
function crossing(f: ReadFragment, origin: number[], nodeSize: number[], tolerance: number[]): number {
  let bad = 0;
  for (let t = 0; t < f.triangles.length; t += 3) {
    const ok = [0, 1, 2].every((d) => {
      const mid = origin[d] + nodeSize[d] * (f.position[d] + 0.5);
      const coords = [0, 1, 2].map((k) => f.stored[3 * f.triangles[t + k] + d]);
      return coords.every((c) => c <= mid + tolerance[d]) || coords.every((c) => c >= mid - tolerance[d]);
    });
    if (!ok) bad++;
  }
  return bad;
}

describe('multi-resolution meshes', () => {
  it('of a sphere across 26 lod 0 nodes: every lod closed and manifold, lod 0 near the sphere, no triangle across a 2x2x2 split, each lod about half the one below', async () => {
    const r = 40,
      c = [80.3, 79.6, 80.8];
    const dir = await meshed({ size: [160, 160, 160], chunk: [32, 32, 32], forgeBlock: 2 }, (x, y, z) => (ball(r, c)(x, y, z) ? 9 : 0));
    const read = (await readSegmentMesh(dir, 9n))!;
    expect(read.info).toMatchObject({ '@type': 'neuroglancer_multilod_draco', vertex_quantization_bits: 10, lod_scale_multiplier: 1 });
    expect(read.info.transform).toEqual([4, 0, 0, 0, 0, 4, 0, 0, 0, 0, 40, 0]);
    const { manifest, fragments } = read;
    expect(manifest.chunkShape).toEqual([32, 32, 32]);
    expect(manifest.gridOrigin).toEqual([-0.5, -0.5, -0.5]);
    const lods = manifest.lods.length;
    expect(lods).toBe(3); // the sphere (40..121 a side) is in lod 0 nodes 1..3 of 32, 0..1 of 64, 0 of 128
    expect(manifest.lods[0].positions.length).toBe(26); // 3^3 but the centre one, inside the ball
    expect(manifest.lods.at(-1)!.positions.length).toBe(1);
    // Z-order within each lod, and each node's parent present one lod up.
    for (const [lod, level] of manifest.lods.entries()) {
      const keys = level.positions.map(([x, y, z]) => {
        let k = 0n;
        for (let b = 0; b < 16; b++)
          k |= (BigInt((x >> b) & 1) << BigInt(3 * b)) | (BigInt((y >> b) & 1) << BigInt(3 * b + 1)) | (BigInt((z >> b) & 1) << BigInt(3 * b + 2));
        return k;
      });
      for (let i = 1; i < keys.length; i++) expect(keys[i] > keys[i - 1], `lod ${lod} order`).toBe(true);
      if (lod + 1 < lods) {
        const parents = new Set(manifest.lods[lod + 1].positions.map((p) => p.join(',')));
        for (const p of level.positions) expect(parents.has(p.map((v) => v >> 1).join(','))).toBe(true);
      }
    }
    for (let lod = 0; lod < lods; lod++) {
      const mesh = lodMesh(fragments, lod);
      expect(openEdges(mesh), `lod ${lod} open edges`).toBe(0);
      expect(nonManifoldVertices(mesh), `lod ${lod}`).toBe(0);
      expect(eulerCharacteristic(mesh), `lod ${lod}`).toBe(2);
    }
    // Lod 0: area within 1% of the sphere's (as the legacy mesher's), vertices within a voxel of it.
    const lod0 = lodMesh(fragments, 0);
    expect(Math.abs(surfaceArea(lod0) / (4 * Math.PI * r * r) - 1)).toBeLessThan(0.01);
    for (let v = 0; v < lod0.positions.length; v += 3) {
      const d = Math.hypot(lod0.positions[v] - 0.5 - c[0], lod0.positions[v + 1] - 0.5 - c[1], lod0.positions[v + 2] - 0.5 - c[2]);
      expect(Math.abs(d - r)).toBeLessThan(1);
    }
    // In nm through the transform: x and y by 4, z by 40.
    const f0 = fragments[0];
    expect(f0.positions[2]).toBeCloseTo(40 * f0.stored[2], 6);
    for (let lod = 1; lod < lods; lod++) {
      const nodeSize = manifest.chunkShape.map((s) => s * 2 ** lod);
      const step = nodeSize.map((s) => s / 1023);
      for (const f of fragments.filter((g) => g.lod === lod)) expect(crossing(f, manifest.gridOrigin, nodeSize, step), `lod ${lod} node ${f.position}`).toBe(0);
      expect(triangleCount(fragments, lod), `lod ${lod}`).toBeLessThanOrEqual(0.6 * triangleCount(fragments, lod - 1));
    }
  });

  it('sharded and unsharded give the same meshes for many segments, fragments before each manifest in the shard', async () => {
    // Eight balls in a 2x2x2 arrangement and a slab across the whole volume (it touches every node).
    // The slab cuts one voxel off each upper ball (segments 5-8: z = 43, at distance 11 from its
    // centre): smoothed to a dot, it collapses under quantization, and must not fail the merge.
    const label = (x: number, y: number, z: number) => {
      if (z >= 44 && z < 50) return 100;
      const cell = [x, y, z].map((v) => Math.floor(v / 36));
      const centre = cell.map((k) => 36 * k + 18);
      return ball(11, centre)(x, y, z) ? 1 + cell[0] + 2 * cell[1] + 4 * cell[2] : 0;
    };
    const geometry = { size: [72, 72, 72] as Vec3, chunk: [24, 24, 24] as Vec3, offset: [3, 5, 7] as Vec3 };
    const shifted = (x: number, y: number, z: number) => label(x - 3, y - 5, z - 7);
    const [unsharded, sharded] = await Promise.all([
      meshed({ ...geometry, batches: 3, forgeBlock: 1 }, shifted),
      meshed({ ...geometry, shardBits: 2, forgeBlock: 2 }, shifted),
    ]);
    for (const id of [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 100n]) {
      const a = (await readSegmentMesh(unsharded, id))!,
        b = (await readSegmentMesh(sharded, id))!;
      expect(a, `segment ${id}`).not.toBeNull();
      expect(b.info.sharding).toMatchObject({ hash: 'murmurhash3_x86_128', shard_bits: 2, data_encoding: 'raw' });
      expect(b.manifest).toEqual(a.manifest);
      expect(b.fragments.map((f) => Array.from(f.stored))).toEqual(a.fragments.map((f) => Array.from(f.stored)));
      expect(a.manifest.gridOrigin).toEqual([2.5, 4.5, 6.5]);
      for (const f of a.fragments) expect(degenerateTriangles(f), `segment ${id} lod ${f.lod}`).toBe(0);
      const lod0 = lodMesh(a.fragments, 0);
      expect(openEdges(lod0), `segment ${id}`).toBe(0);
      expect(nonManifoldVertices(lod0), `segment ${id}`).toBe(0);
    }
    // segment_properties: every segment's voxels, counted here by brute force, largest first.
    const counts = new Map<string, number>();
    for (let z = 7; z < 79; z++)
      for (let y = 5; y < 77; y++)
        for (let x = 3; x < 75; x++) {
          const l = shifted(x, y, z);
          if (l) counts.set(String(l), (counts.get(String(l)) ?? 0) + 1);
        }
    for (const meshDir of [unsharded, sharded]) {
      const props = JSON.parse(await readFile(join(meshDir, '..', 'segment_properties', 'info'), 'utf8'));
      expect(props['@type']).toBe('neuroglancer_segment_properties');
      const got = new Map((props.inline.ids as string[]).map((id, i) => [id, props.inline.properties[0].values[i] as number]));
      expect(got).toEqual(counts);
      expect(props.inline.ids[0]).toBe('100');
      expect(JSON.parse(await readFile(join(meshDir, '..', 'info'), 'utf8')).segment_properties).toBe('segment_properties');
    }
    // Gathered first (blocks of 2x2x2 forge objects, ranges of groups), the same bytes: shards or
    // per-segment files, manifests, segment_properties; only the intermediates under forge/ differ.
    const [unshardedGathered, shardedGathered] = await Promise.all([
      meshed({ ...geometry, batches: 3, forgeBlock: 1, gatherBlock: 2 }, shifted),
      meshed({ ...geometry, shardBits: 4, forgeBlock: 1, gatherBlock: 2 }, shifted),
    ]);
    const shardedDirect = await meshed({ ...geometry, shardBits: 4, forgeBlock: 1, gatherBlock: 0 }, shifted);
    for (const [direct, gathered] of [
      [unsharded, unshardedGathered],
      [shardedDirect, shardedGathered],
    ]) {
      const [a, b] = await Promise.all([outputs(direct), outputs(gathered)]);
      expect([...b.keys()]).toEqual([...a.keys()]);
      expect(a.size).toBeGreaterThan(4);
      for (const [file, bytes] of a) expect(b.get(file)!.equals(bytes), file).toBe(true);
      expect((await readdir(join(gathered, 'forge', 'gather'))).length).toBeGreaterThan(0);
    }
    // The slab spans the volume: the most lods, its top a single node.
    const slab = (await readSegmentMesh(unsharded, 100n))!;
    expect(slab.manifest.lods.length).toBe(3);
    expect(await readSegmentMesh(unsharded, 9n)).toBeNull();
  });
});
