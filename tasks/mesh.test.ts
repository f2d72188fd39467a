import { listAll } from '../storage/store.js';
import { describe, expect, it } from 'vitest';
import { runPlan } from '../queue/local/run.js';
import { Box, Vec3 } from '../common/box.js';
import { createInfo, scaleBounds } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { eulerCharacteristic, nonManifoldVertices, openEdges, readFragment, signedVolume, surfaceArea, weld } from '../test/mesh-check.js';
import { planMesh } from './plan/planners.js';
import { runTask } from './registry.js';

let layerCount = 0;
const inProcess = { concurrency: 4, progress: false, retryDelayMs: 1 };

/** A uint64 segmentation layer holding label(x, y, z) (global voxel coordinates), with its mesh plan run. */
async function meshedLayer(
  opts: { size: Vec3; chunk: Vec3; offset?: Vec3; resolution?: Vec3; simplification?: number; taskChunks?: number },
  label: (x: number, y: number, z: number) => bigint,
): Promise<Volume> {
  const url = `mem://mesh-${layerCount++}`;
  const info = createInfo({
    type: 'segmentation',
    dataType: 'uint64',
    encoding: 'compressed_segmentation',
    size: opts.size,
    chunkSize: opts.chunk,
    voxelOffset: opts.offset ?? [0, 0, 0],
    resolution: opts.resolution ?? [1, 1, 1],
    mips: 0,
  });
  const volume = await Volume.create(url, info);
  const bounds = scaleBounds(info.scales[0]);
  const data = new BigUint64Array(opts.size[0] * opts.size[1] * opts.size[2]);
  let i = 0;
  for (let z = bounds.start[2]; z < bounds.stop[2]; z++)
    for (let y = bounds.start[1]; y < bounds.stop[1]; y++) for (let x = bounds.start[0]; x < bounds.stop[0]; x++) data[i++] = label(x, y, z);
  const { allChunks } = await import('../precomputed/info.js');
  await volume.writeChunks(0, allChunks(info.scales[0]), data, bounds);
  const plan = await planMesh({ layerPath: url, simplification: opts.simplification, taskChunks: opts.taskChunks ?? 1 });
  const summary = await runPlan(plan, runTask, inProcess);
  expect(summary.dead).toEqual([]);
  return Volume.open(url);
}

/** Every fragment the manifest of `segment` lists, read with the test's own reader. */
async function fragmentsOf(volume: Volume, segment: string) {
  const manifest = await volume.store.get(`mesh/${segment}:0`);
  if (!manifest) throw new Error(`no manifest for ${segment}`);
  const { fragments } = JSON.parse(new TextDecoder().decode(manifest)) as { fragments: string[] };
  return Promise.all(fragments.map(async (name) => ({ name, ...readFragment((await volume.store.get(`mesh/${name}`))!) })));
}

const inBox = (b: Box, x: number, y: number, z: number) =>
  x >= b.start[0] && x < b.stop[0] && y >= b.start[1] && y < b.stop[1] && z >= b.start[2] && z < b.stop[2];

describe('Mesh and MeshManifest tasks', () => {
  it('write the info, mesh/info, and one manifest per segment listing every fragment', async () => {
    const volume = await meshedLayer({ size: [40, 40, 20], chunk: [16, 16, 16] }, (x, y, z) => (x < 20 ? 5n : (1n << 40n) + BigInt(z > 9 ? 1 : 0)));
    expect(volume.info.mesh).toBe('mesh');
    expect(JSON.parse(new TextDecoder().decode((await volume.store.get('mesh/info'))!))).toEqual({ '@type': 'neuroglancer_legacy_mesh' });
    const keys = (await listAll(volume.store, 'mesh/')).map((k) => k.slice(5));
    const fragments = keys.filter((k) => k.split(':').length === 3);
    const manifests = keys.filter((k) => k.split(':').length === 2);
    expect(manifests.sort()).toEqual(['1099511627776:0', '1099511627777:0', '5:0']);
    for (const m of manifests) {
      const segment = m.split(':')[0];
      const listed = JSON.parse(new TextDecoder().decode((await volume.store.get(`mesh/${m}`))!)).fragments;
      expect(listed).toEqual(fragments.filter((f) => f.startsWith(`${segment}:0:`)).sort());
    }
    // Label 5 spans x 0..20: chunks x 0-16 and 16-32, all 3x2 of them in y, z.
    expect((await fragmentsOf(volume, '5')).map((f) => f.name.split(':')[2]).sort()).toEqual(
      [
        '0-16_0-16_0-16',
        '0-16_0-16_16-20',
        '0-16_16-32_0-16',
        '0-16_16-32_16-20',
        '0-16_32-40_0-16',
        '0-16_32-40_16-20',
        '16-32_0-16_0-16',
        '16-32_0-16_16-20',
        '16-32_16-32_0-16',
        '16-32_16-32_16-20',
        '16-32_32-40_0-16',
        '16-32_32-40_16-20',
      ].sort(),
    );
  });

  for (const simplification of [0, 5]) {
    it(`join a cube split across 8 chunks, and a block at the volume border, with no open edges (simplification ${simplification})`, async () => {
      const cube: Box = { start: [10, 11, 9], stop: [29, 30, 27] }; // crosses the chunk planes at 20 on every axis
      const block: Box = { start: [0, 25, 0], stop: [12, 40, 40] }; // touches four faces of the volume
      const label = (x: number, y: number, z: number) => (inBox(cube, x, y, z) ? 3n : inBox(block, x, y, z) ? 4n : 0n);
      const volume = await meshedLayer({ size: [40, 40, 40], chunk: [20, 20, 20], resolution: [4, 4, 4], simplification }, label);
      const whole = await meshedLayer({ size: [40, 40, 40], chunk: [64, 64, 64], resolution: [4, 4, 4], simplification }, label);
      for (const [segment, b, chunks] of [
        ['3', cube, 8],
        ['4', block, 2],
      ] as const) {
        const parts = await fragmentsOf(volume, segment);
        expect(parts.length).toBe(chunks);
        const joined = weld(parts);
        expect(openEdges(joined)).toBe(0);
        expect(nonManifoldVertices(joined)).toBe(0);
        expect(eulerCharacteristic(joined)).toBe(2);
        // Smoothing rounds the corners a little; the volume stays near the box's (in nm^3).
        const boxVolume = (b.stop[0] - b.start[0]) * (b.stop[1] - b.start[1]) * (b.stop[2] - b.start[2]) * 64;
        expect(Math.abs(signedVolume(joined) / boxVolume - 1)).toBeLessThan(0.08);
        const [single] = await fragmentsOf(whole, segment);
        if (simplification === 0) {
          // The same cubes, split between chunks: the same number of triangles as one chunk makes.
          expect(joined.triangles.length).toBe(single.triangles.length);
        }
        expect(Math.abs(surfaceArea(joined) / surfaceArea(single) - 1)).toBeLessThan(0.03);
      }
      // Tasks of 2x2x2 chunks of 10^3 cover the same boxes as the 20^3 chunks: the same fragments, byte for byte.
      const paired = await meshedLayer({ size: [40, 40, 40], chunk: [10, 10, 10], resolution: [4, 4, 4], simplification, taskChunks: 2 }, label);
      const fragmentBytes = async (v: Volume) =>
        Object.fromEntries(
          await Promise.all(
            (await listAll(v.store, 'mesh/'))
              .filter((k) => k.split(':').length === 3)
              .map(async (k) => [k, Buffer.from((await v.store.get(k))!).toString('hex')]),
          ),
        );
      expect(await fragmentBytes(paired)).toEqual(await fragmentBytes(volume));
    });
  }

  it('put vertices in nm: a sphere with a voxel offset and anisotropic voxels has the right area and centre', async () => {
    const r = 20; // nm... in units of 8 nm (x, y) and 16 nm (z) voxels: an ellipsoid in voxels
    const offset: Vec3 = [100, 200, 50],
      res: Vec3 = [8, 8, 16];
    const centre = [offset[0] * 8 + 200.3, offset[1] * 8 + 196.1, offset[2] * 16 + 203.7]; // nm
    const R = 10 * r; // 200 nm
    const label = (x: number, y: number, z: number) =>
      ((x + 0.5) * 8 - centre[0]) ** 2 + ((y + 0.5) * 8 - centre[1]) ** 2 + ((z + 0.5) * 16 - centre[2]) ** 2 <= R * R ? 9n : 0n;
    const volume = await meshedLayer({ size: [64, 64, 32], chunk: [64, 64, 32], offset, resolution: res }, label);
    const [sphere] = await fragmentsOf(volume, '9');
    expect(openEdges(sphere)).toBe(0);
    expect(Math.abs(surfaceArea(sphere) / (4 * Math.PI * R * R) - 1)).toBeLessThan(0.03);
    const mean = [0, 1, 2].map((a) => sphere.positions.filter((_, i) => i % 3 === a).reduce((s, v) => s + v, 0) / (sphere.positions.length / 3));
    mean.forEach((m, a) => expect(Math.abs(m - centre[a])).toBeLessThan(res[a] / 4));
  });

  it('refuse bad input, naming the field', async () => {
    const url = `mem://mesh-bad-${layerCount++}`;
    await Volume.create(
      url,
      createInfo({ type: 'segmentation', dataType: 'uint32', encoding: 'raw', size: [32, 32, 32], chunkSize: [16, 16, 16], resolution: [4, 4, 40], mips: 0 }),
    );
    const task = (extra: object) => ({ kind: 'mesh', chunk_key: '4_4_40', chunk_position: '0-16_0-16_0-16', layer_path: url, ...extra });
    await expect(runTask(task({}))).rejects.toThrow(`Mesh task: layer ${url} has no "mesh" key in its info (digest plan mesh adds it)`);
    await planMesh({ layerPath: url });
    await expect(runTask(task({ chunk_position: '0-16_0-16_8-24' }))).rejects.toThrow(
      /^Mesh task: chunk_position 0-16_0-16_8-24 is not made of whole chunks \[16,16,16\] of scale 4_4_40/,
    );
    await expect(runTask(task({ chunk_key: '8_8_40' }))).rejects.toThrow('Mesh task: chunk_key scale "8_8_40" is not in this layer (scales: 4_4_40)');
    await expect(runTask(task({ simplification: 11 }))).rejects.toThrow('Mesh task: simplification must be an integer 0..10, got 11');
    await expect(runTask(task({ segments: [1, '0'] }))).rejects.toThrow('Mesh task: segments[1] must be a non-zero uint64 id');
    await expect(runTask(task({ segments: ['18446744073709551616'] }))).rejects.toThrow('Mesh task: segments[0] must be a non-zero uint64 id');
    await expect(runTask(task({}))).rejects.toThrow(`chunk ${url}/4_4_40/0-16_0-16_0-16 is missing`);
    await expect(runTask({ kind: 'mesh_manifest', layer_path: url, prefix: '1a' })).rejects.toThrow(
      'MeshManifest task: prefix must be a string of decimal digits, got "1a"',
    );
    const image = `mem://mesh-image-${layerCount++}`;
    await Volume.create(
      image,
      createInfo({ type: 'image', dataType: 'uint8', encoding: 'raw', size: [16, 16, 16], chunkSize: [16, 16, 16], resolution: [1, 1, 1], mips: 0 }),
    );
    await expect(planMesh({ layerPath: image })).rejects.toThrow(`plan mesh: layer ${image} is of type image, meshes need a segmentation`);
  });
});
