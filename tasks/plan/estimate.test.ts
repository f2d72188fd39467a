// The estimate against what a plan does: the objects it stores and the requests its tasks make,
// counted by the store they use (mem:// counts requests as a cloud store bills them).
import { describe, expect, it } from 'vitest';
import { box, Box, chunkKey, shapeOf, Vec3 } from '../../common/box.js';
import { allChunks, createInfo, Info, LayerSpec, scaleBounds } from '../../precomputed/info.js';
import { DEMO_WATERSHED } from '../../demo/demo.js';
import { synthesizeAffinities } from '../../demo/synthetic.js';
import { GraphDensity, measureGraphDensity } from './graph-estimate.js';
import { Volume } from '../../precomputed/volume.js';
import { runPlan } from '../../queue/local/run.js';
import { encodeNpy, encodeNpz } from '../../sources/npz.js';
import { memRequests } from '../../storage/mem-store.js';
import { openStore } from '../../storage/open.js';
import { listAll } from '../../storage/store.js';
import { runTask } from '../registry.js';
import { estimatePlan, StageEstimate } from './estimate.js';
import { Plan, planAgglomerate, planIngest, planMultiresMesh, planSkeleton, planWatershed } from './planners.js';

/** A copy of the counts, to subtract. */
const counted = (bucket: string) => {
  const { reads, writes } = memRequests(bucket);
  return { reads, writes };
};

async function writeBuild(url: string, bounds: Box, size: Vec3): Promise<void> {
  const store = openStore(url);
  for (let z = bounds.start[2]; z < bounds.stop[2]; z += size[2])
    for (let y = bounds.start[1]; y < bounds.stop[1]; y += size[1])
      for (let x = bounds.start[0]; x < bounds.stop[0]; x += size[0]) {
        const b = box([x, y, z], [Math.min(x + size[0], bounds.stop[0]), Math.min(y + size[1], bounds.stop[1]), Math.min(z + size[2], bounds.stop[2])]);
        const [sx, sy, sz] = shapeOf(b);
        const data = Uint8Array.from({ length: sx * sy * sz }, (_, i) => (i * 7 + x + 3 * y + 5 * z) % 251);
        await store.put(`${chunkKey(b)}.npz`, encodeNpz({ data: encodeNpy(data, [sx, sy, sz]) }));
      }
}

/**
 * A uint32 segmentation of 48^3 in 16^3 chunks in mem://bucket/seg holding cubes of 4 voxels: 1,728
 * segments, so that every first-stage task of a small plan has some of every merge group (the
 * estimate counts a read for each).
 */
async function cubesLayer(bucket: string): Promise<string> {
  const layerPath = `mem://${bucket}/seg`;
  const info = createInfo({
    size: [48, 48, 48],
    resolution: [8, 8, 8],
    chunkSize: [16, 16, 16],
    mips: 0,
    type: 'segmentation',
    dataType: 'uint32',
    encoding: 'raw',
  });
  const volume = await Volume.create(layerPath, info);
  const labels = Uint32Array.from({ length: 48 ** 3 }, (_, i) => 1 + ((i % 48) >> 2) + 12 * (((i / 48) % 48) >> 2) + 144 * ((i / 48 ** 2) >> 2));
  await volume.writeChunks(0, allChunks(volume.scale(0)), labels, volume.bounds(0));
  return layerPath;
}

/** Runs the plan stage by stage: each stage's objects made, reads and writes (counted) equal to its estimate's; the estimates. */
async function expectStagesAsEstimated(plan: Plan, bucket: string, layerPath: string): Promise<StageEstimate[]> {
  const estimates: StageEstimate[] = [];
  for (const [i, stage] of plan.stages.entries()) {
    const objects = (await listAll(openStore(`mem://${bucket}`))).length;
    const before = counted(bucket);
    expect((await runPlan({ ...plan, stages: [stage] }, runTask, { concurrency: 2, progress: false })).dead).toEqual([]);
    const after = counted(bucket);
    const e = estimatePlan(plan, new Map([[layerPath, (await Volume.open(layerPath)).info]])).stages[i];
    const made = (await listAll(openStore(`mem://${bucket}`))).length - objects;
    expect({ stage: stage.name, made, reads: after.reads - before.reads, writes: after.writes - before.writes }).toEqual({
      stage: stage.name,
      made: e.objects,
      reads: e.reads,
      writes: e.writes - e.tasks,
    });
    estimates.push(e);
  }
  return estimates;
}

describe('the estimate against the requests a plan makes', () => {
  const geometry: LayerSpec = {
    type: 'image',
    dataType: 'uint8',
    encoding: 'raw',
    size: [160, 144, 40],
    voxelOffset: [0, 0, 0],
    resolution: [4, 4, 40],
    chunkSize: [16, 16, 8],
    factor: [2, 2, 1],
    mips: 4,
  };
  const cases: [string, Partial<LayerSpec>][] = [
    ['unsharded', {}],
    ['sharded', { sharding: { targetBytes: 16 * 16 * 8 * 8 } }],
  ];
  for (const [name, extra] of cases) {
    it(`${name} ingest and downsample: objects, reads and writes`, async () => {
      const bucket = `estimate-${name}-${Date.now()}`;
      const layer = `mem://${bucket}/layer`,
        build = `mem://${bucket}/build`;
      const info = createInfo({ ...geometry, ...extra });
      await Volume.create(layer, info);
      await writeBuild(build, scaleBounds(info.scales[0]), [32, 32, 16]);
      const plan = await planIngest({ layerPath: layer, buildPath: build, encoding: 'npz', buildSize: [32, 32, 16], memory: 128 * 2 ** 20 });
      const e = estimatePlan(plan, new Map([[layer, info]]));
      const before = counted(bucket);
      const summary = await runPlan(plan, runTask, { concurrency: 2, progress: false });
      expect(summary.dead).toEqual([]);
      const after = counted(bucket);
      const stored = (await listAll(openStore(layer))).filter((k) => k !== 'info');
      expect(e.total.objects).toBe(stored.length);
      // Writes: the objects (the estimate adds a completion record a task, kept elsewhere).
      console.log(
        name,
        plan.stages.map((s) => s.name),
        after.writes - before.writes,
        e.stages.map((s) => [s.objects, s.writes - s.tasks]),
        stored.length,
      );
      expect(after.writes - before.writes).toBe(e.total.writes - e.total.tasks);
      console.log(
        name,
        plan.stages.map((s) => s.name),
        after.reads - before.reads,
        e.total.reads,
        e.stages.map((s) => s.reads),
      );
      expect(after.reads - before.reads).toBe(e.total.reads);
    });
  }

  it('watershed, agglomeration, remap and meshes, unsharded and sharded: each stage its objects, reads and writes; the same labels', async () => {
    const size: Vec3 = [96, 80, 48];
    const spec = { size, resolution: [8, 8, 8] as Vec3, chunkSize: [16, 16, 16] as Vec3, mips: 0 };
    const labels: (number | bigint)[][][] = [];
    for (const sharding of [undefined, { targetBytes: 16 ** 3 * 8 * 8 }]) {
      const bucket = `estimate-segmentation-${sharding ? 'sharded' : 'unsharded'}-${Date.now()}`;
      const affinitiesPath = `mem://${bucket}/aff`,
        segmentationPath = `mem://${bucket}/ws`;
      const aff = await Volume.create(affinitiesPath, createInfo({ ...spec, type: 'image', dataType: 'float32', numChannels: 3, encoding: 'raw' }));
      await aff.writeChunks(0, allChunks(aff.scale(0)), synthesizeAffinities(aff.bounds(0)), aff.bounds(0));
      await Volume.create(
        segmentationPath,
        createInfo({ ...spec, type: 'segmentation', dataType: 'uint64', encoding: 'compressed_segmentation', mips: 2, sharding }),
      );
      // Tasks of 2^3 chunks: one shard of 2x2x2 chunks each when sharded, so both layouts cut the same boxes.
      const watershed = await planWatershed({ affinitiesPath, segmentationPath, params: DEMO_WATERSHED, overlap: 4, taskChunks: 2 });
      const rows: { name: string; made: number; reads: number; writes: number }[] = [];
      const expected: typeof rows = [];
      const run = async (plan: Plan, infos: () => Promise<Map<string, Info>>, density?: GraphDensity) => {
        for (const [i, stage] of plan.stages.entries()) {
          const objects = (await listAll(openStore(`mem://${bucket}`))).length;
          const before = counted(bucket);
          expect((await runPlan({ ...plan, stages: [stage] }, runTask, { concurrency: 2, progress: false })).dead).toEqual([]);
          const after = counted(bucket);
          const e = estimatePlan(plan, await infos(), { density }).stages[i];
          const made = (await listAll(openStore(`mem://${bucket}`))).length - objects;
          rows.push({ name: stage.name, made, reads: after.reads - before.reads, writes: after.writes - before.writes });
          // (The estimate's writes include a completion record a task, which the queue keeps.)
          expected.push({ name: stage.name, made: e.objects, reads: e.reads, writes: e.writes - e.tasks });
        }
      };
      const infoOf = async (url: string) => (await Volume.open(url)).info;
      await run(watershed, async () => new Map([[segmentationPath, await infoOf(segmentationPath)]]));
      // MeanGraph writes the chunk graphs the density is counted in; the stages after it use that.
      const density = (await measureGraphDensity(await Volume.open(segmentationPath), 1000)) ?? undefined;
      const plan = await planAgglomerate({ affinitiesPath, segmentationPath, threshold: 0.6, block: 2, shardBits: 1, taskChunks: 2 });
      await run(
        plan,
        async () =>
          new Map([
            [segmentationPath, await infoOf(segmentationPath)],
            [plan.layer_path, await infoOf(plan.layer_path)],
          ]),
        density,
      );
      expect(rows).toEqual(expected);
      expect(rows.length).toBe(13);
      const out = await Volume.open(plan.layer_path);
      expect(out.info.scales.every((scale) => Boolean(scale.sharding) === Boolean(sharding))).toBe(true);
      const ws = await Volume.open(segmentationPath);
      const read = async (v: Volume, mip: number) => Array.from((await v.read(mip, v.bounds(mip))) as BigUint64Array);
      const mips: (number | bigint)[][] = [await read(ws, 0)];
      for (let mip = 0; mip < out.info.scales.length; mip++) mips.push(await read(out, mip));
      labels.push(mips);
    }
    // The watershed and every mip of segmentation_0.6 hold the same labels either way.
    expect(labels[1].length).toBe(5);
    labels[1].forEach((l, i) => expect(l, `volume ${i}`).toEqual(labels[0][i]));
  });

  it('multi-resolution meshes gathered first: each stage its objects, reads and writes as estimated', async () => {
    const bucket = `estimate-gather-${Date.now()}`;
    const layerPath = await cubesLayer(bucket);
    const plan = await planMultiresMesh({ layerPath, forgeBlock: 1, gatherBlock: 2, shardBits: 3 });
    expect(plan.stages.map((st) => st.name)).toEqual(['mesh forge', 'mesh gather', 'mesh merge', 'segment properties']);
    await expectStagesAsEstimated(plan, bucket, layerPath);
  });

  for (const gatherBlock of [0, 2])
    it(`skeletons, sharded${gatherBlock ? ', gathered' : ''}: each stage its objects, reads and writes as estimated`, async () => {
      const bucket = `estimate-skeletons-${gatherBlock}-${Date.now()}`;
      const layerPath = await cubesLayer(bucket);
      const plan = await planSkeleton({ layerPath, block: 1, shardBits: 2, dust: 0, gatherBlock });
      expect(plan.stages.map((st) => st.name)).toEqual(['skeletonize', ...(gatherBlock ? ['skeleton gather'] : []), 'skeleton merge']);
      for (const e of await expectStagesAsEstimated(plan, bucket, layerPath)) expect(e.coreHours).toBeGreaterThan(0);
    });

  it('a sharded watershed whose shard does not fit --memory goes through an unsharded staging layer into the shards: the same labels, as estimated', async () => {
    const bucket = `estimate-staged-${Date.now()}`;
    const spec = { size: [64, 48, 32] as Vec3, resolution: [8, 8, 8] as Vec3, chunkSize: [16, 16, 16] as Vec3, mips: 0 };
    const affinitiesPath = `mem://${bucket}/aff`;
    const aff = await Volume.create(affinitiesPath, createInfo({ ...spec, type: 'image', dataType: 'float32', numChannels: 3, encoding: 'raw' }));
    await aff.writeChunks(0, allChunks(aff.scale(0)), synthesizeAffinities(aff.bounds(0)), aff.bounds(0));
    // One chunk grown by 4 plans at 101.0 MiB, a shard of 2x2x2 chunks at 104.6: at 103 MiB the
    // unsharded layer gets one-chunk tasks, the sharded one a staging layer with the same tasks.
    const memory = 103 * 2 ** 20;
    const labels: bigint[][] = [];
    for (const sharding of [undefined, { targetBytes: 16 ** 3 * 8 * 8 }]) {
      const segmentationPath = `mem://${bucket}/ws-${sharding ? 'sharded' : 'plain'}`;
      await Volume.create(segmentationPath, createInfo({ ...spec, type: 'segmentation', dataType: 'uint64', encoding: 'compressed_segmentation', sharding }));
      const plan = await planWatershed({ affinitiesPath, segmentationPath, params: DEMO_WATERSHED, overlap: 4, memory });
      expect(plan.stages.map((st) => st.name)).toEqual(sharding ? ['watershed', 'watershed into shards'] : ['watershed']);
      for (const [i, stage] of plan.stages.entries()) {
        const before = counted(bucket);
        expect((await runPlan({ ...plan, stages: [stage] }, runTask, { concurrency: 2, progress: false })).dead).toEqual([]);
        const after = counted(bucket);
        const infos = new Map(
          await Promise.all(
            [segmentationPath, `${segmentationPath}-unsharded`].map(async (u) => [u, (await Volume.open(u).catch(() => undefined))?.info] as const),
          ),
        );
        const e = estimatePlan(plan, new Map([...infos].filter((kv): kv is [string, Info] => kv[1] !== undefined))).stages[i];
        expect({ stage: stage.name, reads: after.reads - before.reads, writes: after.writes - before.writes }).toEqual({
          stage: stage.name,
          reads: e.reads,
          writes: e.writes - e.tasks,
        });
      }
      const ws = await Volume.open(segmentationPath);
      expect(Boolean(ws.scale(0).sharding)).toBe(Boolean(sharding));
      labels.push(Array.from((await ws.read(0, ws.bounds(0))) as BigUint64Array));
    }
    expect(labels[1]).toEqual(labels[0]);
    expect(new Set(labels[0]).size).toBeGreaterThan(10);
  });
});
