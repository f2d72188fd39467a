// Plans as descriptions: the 100 TB example planned without data, a 10^8-task stage, multi-mip
// downsample tasks against the mip-by-mip path, and resuming a local run.
import { describe, expect, it } from 'vitest';
import { TransientError } from '../../common/errors.js';
import { runPlan } from '../../queue/local/run.js';
import { ProgressStore } from '../../queue/progress/store.js';
import { Box, box, chunkKey, parseChunkKey, Vec3, voxelCount } from '../../common/box.js';
import { allChunks, createInfo, Info, LayerSpec, scaleBounds } from '../../precomputed/info.js';
import { Volume } from '../../precomputed/volume.js';
import { openStore } from '../../storage/open.js';
import { listAll } from '../../storage/store.js';
import { seededRandom } from '../../test/reference.js';
import { estimatePlan } from './estimate.js';
import {
  agglomeratedLayerPath,
  planAgglomerate,
  planDownsample,
  planIngest,
  planMesh,
  planSize,
  planSkeleton,
  planWatershed,
  stageSize,
  taskAt,
} from './planners.js';
import { AGGLOMERATE_US_PER_EDGE, ASSUMED_DENSITY } from './graph-estimate.js';
import { parsePlan } from './format.js';
import { PROCESS_BYTES } from './task-size.js';
import { runTask, Task } from '../registry.js';

/** The job of issue 12: 200,000 x 200,000 x 2,500 uint8 at 4x4x40 nm, 128x128x64 chunks, three 2x2x1 mips then 2x2x2. */
const BIG: LayerSpec = {
  type: 'image',
  dataType: 'uint8',
  encoding: 'raw',
  size: [200_000, 200_000, 2_500],
  resolution: [4, 4, 40],
  chunkSize: [128, 128, 64],
  factors: [
    [2, 2, 1],
    [2, 2, 1],
    [2, 2, 1],
    [2, 2, 2],
  ],
};

/** The scales' sizes worked out here, by hand: ceil(size / factor) per mip until one chunk holds it. */
function expectedSizes(): Vec3[] {
  const sizes: Vec3[] = [[200_000, 200_000, 2_500]];
  const factors: Vec3[] = [
    [2, 2, 1],
    [2, 2, 1],
    [2, 2, 1],
  ];
  while (true) {
    const last = sizes[sizes.length - 1];
    if (last[0] <= 128 && last[1] <= 128 && last[2] <= 64) return sizes;
    const f = factors[sizes.length - 1] ?? [2, 2, 2];
    sizes.push(last.map((v, i) => Math.ceil(v / f[i])) as Vec3);
  }
}

const grid = (size: Vec3, chunk: Vec3) => size.map((s, i) => Math.ceil(s / chunk[i])) as Vec3;
const cells = (g: Vec3) => g[0] * g[1] * g[2];

describe('planning the 100 TB image without holding it', () => {
  it('plans ingest and every downsample stage, with counts that agree with arithmetic', async () => {
    const layer = `mem://big-${Date.now()}`;
    const info = createInfo(BIG);
    expect(info.scales.map((s) => s.size)).toEqual(expectedSizes());
    await Volume.create(layer, info);
    const t0 = Date.now();
    const plan = await planIngest({ layerPath: layer, buildPath: 'gs://bucket/build', encoding: 'npz', buildSize: [1024, 1024, 128], memory: 2 * 2 ** 30 });
    const seconds = (Date.now() - t0) / 1000;
    expect(seconds).toBeLessThan(60);
    expect(JSON.stringify(plan).length).toBeLessThan(20_000);
    // Ingest: one task per build chunk, 196 x 196 x 20.
    expect(plan.stages[0].name).toBe('ingest');
    expect(stageSize(plan.stages[0])).toBe(196 * 196 * 20);
    expect(taskAt(plan.stages[0], 0)).toMatchObject({ kind: 'ingest', chunk_path: 'gs://bucket/build/0-1024_0-1024_0-128.npz' });
    expect(taskAt(plan.stages[0], 196 * 196 * 20 - 1)).toMatchObject({ chunk_path: 'gs://bucket/build/199680-200000_199680-200000_2432-2500.npz' });
    // A 1024x1024x128 build chunk completes mips 1..3 (down to 128x128x128: 1x1x2 chunks), not mip 4
    // (64x64x64 is less than a chunk): so downsampling starts at mip 4, and every mip above is made once.
    const written: number[] = [];
    for (const stage of plan.stages.slice(1)) {
      for (const set of stage.sets) {
        expect('template' in set && set.template.kind).toBe('downsample');
        const t = set as { template: { mips?: number }; format: string };
        const top = info.scales.findIndex((s) => s.key === t.format.split('/')[0]);
        const mips = t.template.mips ?? 1;
        for (let m = top - mips + 1; m <= top; m++) written.push(m);
        // One task per chunk of the stage's top mip.
        expect(stageSize(stage)).toBe(cells(grid(info.scales[top].size, [128, 128, 64])));
      }
    }
    expect(written).toEqual(Array.from({ length: info.scales.length - 4 }, (_, i) => 4 + i));
    // Tasks of the first downsample stage tile its top mip: first, last and random ones.
    const stage = plan.stages[1];
    const set = stage.sets[0] as { format: string; template: { mips?: number } };
    const top = info.scales.findIndex((s) => s.key === set.format.split('/')[0]);
    const bounds = scaleBounds(info.scales[top]);
    let covered = 0;
    const random = seededRandom(5);
    const n = stageSize(stage);
    for (const i of [0, n - 1, ...Array.from({ length: 50 }, () => Math.floor(random() * n))]) {
      const b = parseChunkKey((taskAt(stage, i) as { chunk_path: string }).chunk_path.split('/')[1]);
      expect(b.start.every((s, d) => s >= bounds.start[d] && b.stop[d] <= bounds.stop[d])).toBe(true);
      covered += voxelCount(b);
    }
    expect(covered).toBeGreaterThan(0);
    // The estimate: 130 M objects of 128x128x64 at mips 0..3 alone would be 97.7 M + 24.4 M + 6.1 M + 1.5 M.
    const e = estimatePlan(plan, new Map([[layer, info]]));
    const chunksPerMip = info.scales.map((s) => cells(grid(s.size, [128, 128, 64])));
    expect(e.total.objects).toBe(chunksPerMip.reduce((a, b) => a + b, 0));
    expect(e.total.tasks).toBe(planSize(plan));
    expect(e.price.writes).toBeCloseTo((e.total.writes / 1000) * 0.005, 6);
  });

  it('refuses an Ingest task whose build chunk does not fit --memory, naming what it needs', async () => {
    const layer = `mem://ingest-memory-${Date.now()}`;
    await Volume.create(layer, createInfo({ ...BIG, size: [2048, 2048, 256], type: 'segmentation', dataType: 'uint64', encoding: 'compressed_segmentation' }));
    // 1024x1024x128 uint64 is 1 GiB: 100 MiB + 2.4 x 1024 MiB = 2,557.6 MiB.
    const opts = { layerPath: layer, buildPath: 'mem://nowhere/build', encoding: 'npz' as const, buildSize: [1024, 1024, 128] as Vec3 };
    await expect(planIngest(opts)).rejects.toThrow(
      'plan ingest: an Ingest task of a build chunk of 134217728 voxels needs about 2558 MiB, more than --memory 2048 MiB; give it more --memory or smaller build chunks',
    );
    expect(stageSize((await planIngest({ ...opts, memory: 4096 * 2 ** 20 })).stages[0])).toBe(2 * 2 * 2);
    expect(stageSize((await planIngest({ ...opts, buildSize: [512, 512, 128] })).stages[0])).toBe(4 * 4 * 2);
  });

  it('makes a stage of 10^8 tasks as a few hundred bytes, each task on demand', async () => {
    const layer = `mem://big-seg-${Date.now()}`;
    const info = createInfo({ ...BIG, type: 'segmentation', dataType: 'uint64', encoding: 'compressed_segmentation', mips: 0 });
    await Volume.create(layer, info);
    const plan = await planMesh({ layerPath: layer, taskChunks: 1 });
    const n = cells(grid([200_000, 200_000, 2_500], [128, 128, 64]));
    expect(n).toBe(1563 * 1563 * 40);
    expect(stageSize(plan.stages[0])).toBe(n);
    expect(JSON.stringify(plan.stages[0]).length).toBeLessThan(1000);
    expect(taskAt(plan.stages[0], n - 1)).toMatchObject({ kind: 'mesh', chunk_position: '199936-200000_199936-200000_2496-2500' });
    expect(taskAt(plan.stages[0], 1563 + 2)).toMatchObject({ chunk_position: '256-384_128-256_0-64' });
    // The plan file round-trips through its schema.
    expect(parsePlan(JSON.stringify(plan), 'plan.json')).toEqual(plan);
  });
});

/** Empty layers of the 100 TB geometry: a uint64 watershed (`mips` as given) and its float32 x 3 affinities (mip 0 only). */
async function bigWatershed(name: string, mips: { mips?: number }): Promise<{ segmentationPath: string; affinitiesPath: string }> {
  const id = `${name}-${Date.now()}`;
  const segmentationPath = `mem://${id}/ws`,
    affinitiesPath = `mem://${id}/aff`;
  await Volume.create(segmentationPath, createInfo({ ...BIG, ...mips, type: 'segmentation', dataType: 'uint64', encoding: 'compressed_segmentation' }));
  await Volume.create(affinitiesPath, createInfo({ ...BIG, mips: 0, type: 'image', dataType: 'float32', numChannels: 3, encoding: 'raw' }));
  return { segmentationPath, affinitiesPath };
}

describe('the agglomeration of a 100 TB watershed', () => {
  it('is planned and estimated level by level: edges, bytes, core-hours', async () => {
    const { segmentationPath, affinitiesPath } = await bigWatershed('big', { mips: 0 });
    const plan = await planAgglomerate({ affinitiesPath, segmentationPath, threshold: 0.5, block: 4 });
    const ws = await Volume.open(segmentationPath);
    const e = estimatePlan(plan, new Map([[segmentationPath, ws.info]]), { density: ASSUMED_DENSITY });
    const voxels = 200_000 * 200_000 * 2_500;
    const levels = e.stages.filter((st) => st.name.startsWith('agglomerate level'));
    // Blocks of 4 chunks (512x512x256 voxels), doubling up to the 1563x1563x40 grid: levels 0..9.
    expect(levels.map((l) => l.tasks)).toEqual([391 * 391 * 10, 196 * 196 * 5, 98 * 98 * 3, 49 * 49 * 2, 25 * 25, 13 * 13, 7 * 7, 4 * 4, 2 * 2, 1]);
    expect(levels[0].edges).toBeCloseTo(voxels * ASSUMED_DENSITY.edgesPerVoxel, -3);
    // Level 1 reads the edges of fragments within a fragment's width (21.5 voxels) of a level 0 block's faces.
    const width = Math.cbrt(ASSUMED_DENSITY.voxelsPerRegion);
    expect(levels[1].edges! / levels[0].edges!).toBeCloseTo(1 - (1 - width / 512) ** 2 * (1 - width / 256), 9);
    for (let l = 1; l < levels.length; l++) expect(levels[l].edges!).toBeLessThan(levels[l - 1].edges!);
    expect(levels[9].edgesPerTask).toBe(levels[9].edges);
    for (const l of levels) expect(l.coreHours).toBeCloseTo((l.edges! * AGGLOMERATE_US_PER_EDGE * 1e-6) / 3600, 6);
    // MeanGraph tasks of 5^3 chunks: one z layer, (5 * 128 + 1)^2 x 65 voxels at 64 bytes, 1,730 MiB
    // with the 100 MiB process (6^3: 2,446 MiB, over the default 2 GiB).
    expect(e.stages[0]).toMatchObject({ name: 'mean graph', tasks: 313 * 313 * 8 });
    expect(e.stages[0].coreHours).toBeCloseTo(voxels / 5e6 / 3600, 3);
    // The watershed has no mips: segmentation_<t>'s go toward isotropic voxels (2x2x1 until 32x32x40 nm).
    const out = await Volume.open(agglomeratedLayerPath(segmentationPath, 0.5));
    expect(out.info.scales.slice(0, 6).map((sc) => sc.resolution)).toEqual([
      [4, 4, 40],
      [8, 8, 40],
      [16, 16, 40],
      [32, 32, 40],
      [64, 64, 80],
      [128, 128, 160],
    ]);
  });
});

describe('tasks sized by --memory', () => {
  it('gives each kind the largest cube of chunks its measured cost fits, refuses one that does not, and names options that exist', async () => {
    const { segmentationPath, affinitiesPath } = await bigWatershed('sized', {});
    const params = { high_threshold: 0.99, low_threshold: 0.05, merge_threshold: 0.5, merge_size: 100, dust_size: 10 };
    const step = (stage: { sets: unknown[] }) => (stage.sets[0] as { step: Vec3 }).step;
    // By hand, 128x128x64 chunks, 2 GiB, a 100 MiB process: watershed 76 bytes a voxel of its box
    // grown by 8 voxels, 2^3 chunks (2 * 128 + 16)^2 x (2 * 64 + 16) 872 MiB, 3^3 2,512 MiB.
    const ws = await planWatershed({ affinitiesPath, segmentationPath, params, overlap: 8 });
    expect(step(ws.stages[0])).toEqual([256, 256, 128]);
    expect(stageSize(ws.stages[0])).toBe(782 * 782 * 20);
    // Remap 16 bytes a voxel: 4^3 1,124 MiB, 5^3 2,100 MiB. Legacy meshes 34 bytes a padded voxel: 3^3 1,028 MiB, 4^3 2,293.
    const plan = await planAgglomerate({ affinitiesPath, segmentationPath, threshold: 0.5, meshFormat: 'legacy' });
    const stage = (name: string) => plan.stages.find((st) => st.name === name)!;
    expect(step(stage('remap'))).toEqual([512, 512, 256]);
    expect(step(stage('mesh'))).toEqual([384, 384, 192]);
    expect(stageSize(stage('mesh'))).toBe(521 * 521 * 14);
    // segmentation_<t> takes the watershed's factors (2x2x1, then 2x2x2), not 2x2x2 throughout.
    const out = await Volume.open(agglomeratedLayerPath(segmentationPath, 0.5));
    expect(out.info.scales.slice(1, 5).map((sc) => sc.resolution)).toEqual([
      [8, 8, 40],
      [16, 16, 40],
      [32, 32, 40],
      [64, 64, 80],
    ]);
    // Skeletonize 90 bytes a padded voxel: 2^3 chunks (257 x 257 x 129) 831 MiB, 3^3 2,554 MiB.
    expect(step((await planSkeleton({ layerPath: agglomeratedLayerPath(segmentationPath, 0.5) })).stages[0])).toEqual([256, 256, 128]);
    const skeletons = await planAgglomerate({ affinitiesPath, segmentationPath, threshold: 0.5, meshFormat: 'legacy', skeletons: true });
    // Unsharded (legacy meshes): a batch of ids a Skeletonize task, so without a gather stage every
    // merge would read every one of the 12 M tasks' indexes: the merges read gathered objects instead.
    expect(skeletons.stages.slice(-3).map((st) => st.name)).toEqual(['skeletonize', 'skeleton gather', 'skeleton merge']);
    expect(step(skeletons.stages.at(-3)!)).toEqual([256, 256, 128]);
    const tasks = stageSize(skeletons.stages.at(-3)!);
    const gathers = stageSize(skeletons.stages.at(-2)!);
    expect(stageSize(skeletons.stages.at(-1)!)).toBe(tasks);
    expect(gathers).toBeGreaterThan(tasks / 10);
    expect(gathers).toBeLessThan(tasks * 10);
    // Once refused at 3.9e8 tasks with advice to use an option plan mesh did not have; now 64^3
    // chunks plan (6^3 chunks a task, 1,950 MiB; 7^3 3,035), and at 64 MiB one chunk does not fit and the error says so.
    const small = `${segmentationPath}-small`;
    await Volume.create(
      small,
      createInfo({ ...BIG, chunkSize: [64, 64, 64], type: 'segmentation', dataType: 'uint64', encoding: 'compressed_segmentation', mips: 0 }),
    );
    expect(stageSize((await planMesh({ layerPath: small })).stages[0])).toBe(cells(grid([200_000, 200_000, 2_500], [64 * 6, 64 * 6, 64 * 6])));
    await expect(planMesh({ layerPath: small, memory: 64 * 2 ** 20 })).rejects.toThrow(
      /one mesh task of one chunk \[64,64,64\] needs about 109 MiB, more than --memory 64 MiB; give it more --memory or the layer smaller chunks/,
    );
    await expect(planMesh({ layerPath: small, taskChunks: 1 })).rejects.toThrow(/would be 3\.91e\+8 tasks, more than 2\.68e\+8; use a larger --task-chunks/);
  });
});

describe('multi-mip downsample tasks', () => {
  const values = (b: Box) => {
    const out = new Uint16Array(voxelCount(b));
    let i = 0;
    for (let z = b.start[2]; z < b.stop[2]; z++)
      for (let y = b.start[1]; y < b.stop[1]; y++) for (let x = b.start[0]; x < b.stop[0]; x++) out[i++] = (x * 31 + y * 17 + z * 7 + ((x ^ y) & 15)) % 65536;
    return out;
  };

  for (const [name, spec] of [
    ['aligned, 2x2x2', { size: [96, 80, 72], voxelOffset: [0, 0, 0], factors: [[2, 2, 2]] }],
    [
      'odd offsets and sizes, 2x2x1 then 2x2x2',
      {
        size: [101, 77, 45],
        voxelOffset: [3, 5, 1],
        factors: [
          [2, 2, 1],
          [2, 2, 2],
        ],
      },
    ],
  ] as const) {
    it(`write the same bytes as the mip-by-mip path: ${name}`, async () => {
      const info = createInfo({
        type: 'image',
        dataType: 'uint16',
        encoding: 'raw',
        resolution: [4, 4, 40],
        chunkSize: [8, 8, 4],
        ...spec,
        size: [...spec.size] as Vec3,
        voxelOffset: [...spec.voxelOffset] as Vec3,
        factors: spec.factors.map((f) => [...f] as Vec3),
      });
      const layers: string[] = [];
      const stagesUsed: number[] = [];
      for (const memory of [1 << 30, PROCESS_BYTES + (64 << 10)]) {
        const layer = `mem://multi-${name.replace(/\W+/g, '-')}-${memory}`;
        const v = await Volume.create(layer, info);
        const b = v.bounds(0);
        await v.writeChunks(0, allChunks(v.scale(0)), values(b), b);
        const plan = await planDownsample({ layerPath: layer, memory });
        stagesUsed.push(plan.stages.length);
        expect((await runPlan(plan, runTask, { concurrency: 3, progress: false })).dead).toEqual([]);
        layers.push(layer);
      }
      expect(stagesUsed[0]).toBeLessThan(stagesUsed[1]); // more mips per task with more memory
      const [a, b] = layers.map(openStore);
      const keys = await listAll(a);
      expect(await listAll(b)).toEqual(keys);
      expect(keys.length).toBe(1 + info.scales.reduce((n, s) => n + allChunks(s).length, 0));
      for (const k of keys.filter((key) => key !== 'info')) expect(await b.get(k), k).toEqual(await a.get(k));
    });
  }
});

describe('resuming a local run', () => {
  it('skips exactly the tasks an earlier run finished', async () => {
    const layer = `mem://resume-${Date.now()}`;
    const info: Info = createInfo({
      type: 'image',
      dataType: 'uint8',
      encoding: 'raw',
      size: [64, 64, 16],
      resolution: [4, 4, 40],
      chunkSize: [8, 8, 8],
      mips: 1,
    });
    const v = await Volume.create(layer, info);
    await v.writeChunks(0, allChunks(v.scale(0)), new Uint8Array(64 * 64 * 16).fill(3), v.bounds(0));
    const plan = await planDownsample({ layerPath: layer, memory: PROCESS_BYTES + (1 << 20) });
    const n = stageSize(plan.stages[0]);
    expect(n).toBe(4 * 4 * 1);
    const progressUrl = `mem://resume-progress-${Date.now()}`;
    const ran: string[][] = [[], []];
    // First run: every other task fails for good (one attempt), the rest finish.
    const first = await runPlan(
      plan,
      async (t: Task) => {
        const key = (t as { chunk_path: string }).chunk_path;
        if (parseChunkKey(key.split('/')[1]).start[0] % 16 === 8) throw new TransientError('storage went away');
        ran[0].push(key);
        return runTask(t);
      },
      { concurrency: 2, progress: false, maxAttempts: 1, progressUrl },
    );
    expect(first.done).toBe(n / 2);
    expect(first.dead.length).toBe(n / 2);
    const second = await runPlan(
      plan,
      async (t: Task) => {
        ran[1].push((t as { chunk_path: string }).chunk_path);
        return runTask(t);
      },
      { concurrency: 2, progress: false, progressUrl },
    );
    expect(second.skipped).toBe(n / 2);
    expect(second.done).toBe(n / 2);
    expect(second.dead).toEqual([]);
    expect([...ran[0], ...ran[1]].sort()).toEqual(Array.from({ length: n }, (_, i) => (taskAt(plan.stages[0], i) as { chunk_path: string }).chunk_path).sort());
    expect(new Set(ran[1]).size).toBe(ran[1].length);
    expect(ran[1].some((k) => ran[0].includes(k))).toBe(false);
    const status = await new ProgressStore(progressUrl).status();
    expect(status[0]).toMatchObject({ tasks: n, done: n, dead: 0 });
    // A third run does nothing; another plan under the same progress is refused.
    expect((await runPlan(plan, runTask, { concurrency: 2, progress: false, progressUrl })).skipped).toBe(n);
    await expect(runPlan({ ...plan, layer_path: 'mem://other' }, runTask, { concurrency: 2, progress: false, progressUrl })).rejects.toThrow(
      /holds the progress of another plan/,
    );
    expect(chunkKey(box([0, 0, 0], [1, 1, 1]))).toBe('0-1_0-1_0-1');
  });
});
