// The agglomeration pipeline on the demo's synthetic volume (whose true cells the generator knows):
// plan agglomerate's stages run by the demo, then the written layer checked independently.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../demo/demo.js';
import { synthesize } from '../demo/synthetic.js';
import { box, Vec3 } from '../common/box.js';
import { scaleBounds } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { listAll } from '../storage/store.js';
import { referencePyramid } from '../test/reference.js';
import { bruteForceAgglomeration, voxelEdges } from '../test/reference-agglomeration.js';
import { runDigest } from '../test/cli.js';
import { loadMapping, mappingDir } from './agglomerate.js';
import { planAgglomerate } from './plan/planners.js';
import { estimatePlan } from './plan/estimate.js';
import { measureGraphDensity } from './plan/graph-estimate.js';
import { runPlan } from '../queue/local/run.js';
import { runTask } from './registry.js';
import { meshedSegments, readSegmentMesh } from '../test/multires-reader.js';
import { openEdges, weld } from '../test/mesh-check.js';
import { chunkFromShardFile, shardFileOf, SpecJson } from '../test/sharded-reader.js';
import { readSkeleton } from '../test/skeleton-reader.js';

/**
 * Voxel pairs across a watershed task border (the chunk planes) inside one true cell: how many, and
 * how many of them get two labels. Every such pair is cut by the watershed (each task has its own
 * labels); agglomeration should join them.
 */
function borderCuts(truth: BigUint64Array, labels: BigUint64Array, size: Vec3, chunk: Vec3): { pairs: number; cut: number } {
  const [sx, sy, sz] = size;
  let pairs = 0,
    cut = 0;
  for (let z = 0; z < sz; z++)
    for (let y = 0; y < sy; y++)
      for (let x = 0; x < sx; x++) {
        const i = x + sx * (y + sy * z);
        for (const [onPlane, j] of [
          [x > 0 && x % chunk[0] === 0, i - 1],
          [y > 0 && y % chunk[1] === 0, i - sx],
          [z > 0 && z % chunk[2] === 0, i - sx * sy],
        ] as [boolean, number][]) {
          if (!onPlane || truth[i] === 0n || truth[i] !== truth[j] || labels[i] === 0n || labels[j] === 0n) continue;
          pairs++;
          if (labels[i] !== labels[j]) cut++;
        }
      }
  return { pairs, cut };
}

/** Distinct label pairs (both nonzero) of face-adjacent voxels, counted per cubic chunk of the upper voxel. */
function chunkPairs(labels: BigUint64Array, size: Vec3, chunk: number): number {
  const [sx, sy, sz] = size;
  const pairs = new Set<string>();
  for (let z = 0; z < sz; z++)
    for (let y = 0; y < sy; y++)
      for (let x = 0; x < sx; x++) {
        const i = x + sx * (y + sy * z);
        const cell = `${Math.floor(x / chunk)},${Math.floor(y / chunk)},${Math.floor(z / chunk)}`;
        for (const j of [x > 0 ? i - 1 : -1, y > 0 ? i - sx : -1, z > 0 ? i - sx * sy : -1]) {
          if (j < 0 || labels[i] === 0n || labels[j] === 0n || labels[i] === labels[j]) continue;
          const [a, b] = labels[i] < labels[j] ? [labels[i], labels[j]] : [labels[j], labels[i]];
          pairs.add(`${cell}:${a},${b}`);
        }
      }
  return pairs.size;
}

/** Labels whose voxels lie in more than one true cell (wrong merges). */
function labelsAcrossCells(truth: BigUint64Array, labels: BigUint64Array): number {
  const cells = new Map<bigint, Set<bigint>>();
  labels.forEach((l, i) => {
    if (l === 0n || truth[i] === 0n) return;
    cells.set(l, (cells.get(l) ?? new Set()).add(truth[i]));
  });
  return [...cells.values()].filter((s) => s.size > 1).length;
}

/** Each nonzero label's voxel indices (x fastest). */
function segmentVoxels(labels: BigUint64Array, size: Vec3): Map<bigint, number[]> {
  const out = new Map<bigint, number[]>();
  labels.forEach((l, i) => {
    if (l === 0n) return;
    const list = out.get(l);
    if (list) list.push(i);
    else out.set(l, [i]);
  });
  return out;
}

/** The 26-connected pieces of label `id` (its voxels `members`), within the boxes of `cell` voxels a side if given: their voxels. */
function pieces(labels: BigUint64Array, size: Vec3, id: bigint, members: number[], cell?: Vec3): number[][] {
  const seen = new Set<number>();
  const out: number[][] = [];
  const boxOf = (c: number[]) => (cell ? c.map((v, d) => Math.floor(v / cell[d])).join() : '');
  for (const start of members) {
    if (seen.has(start)) continue;
    const queue = [start];
    out.push(queue);
    seen.add(start);
    for (let q = 0; q < queue.length; q++) {
      const v = queue[q];
      const c = [v % size[0], Math.floor(v / size[0]) % size[1], Math.floor(v / (size[0] * size[1]))];
      const home = boxOf(c);
      for (let dz = -1; dz <= 1; dz++)
        for (let dy = -1; dy <= 1; dy++)
          for (let dx = -1; dx <= 1; dx++) {
            const [x, y, z] = [c[0] + dx, c[1] + dy, c[2] + dz];
            if (x < 0 || y < 0 || z < 0 || x >= size[0] || y >= size[1] || z >= size[2] || boxOf([x, y, z]) !== home) continue;
            const u = x + size[0] * (y + size[1] * z);
            if (labels[u] === id && !seen.has(u)) (seen.add(u), queue.push(u));
          }
    }
  }
  return out;
}

describe('agglomeration into segmentation_<t>', () => {
  it('writes every mip from the watershed through the mapping, meshes it, and joins cells cut at task borders', async () => {
    const out = await mkdtemp(join(tmpdir(), 'digest-agglomerate-'));
    const size: Vec3 = [96, 80, 48];
    const result = await runDemo({ out, size, buildSize: [64, 64, 32], chunkSize: [32, 32, 16], execute: runTask, concurrency: 4, progress: false });
    expect(result.summary.dead).toEqual([]);
    expect(result.agglomeratedLayer).toMatch(/segmentation_0\.6$/);
    const [watershed, agglomerated] = await Promise.all([Volume.open(result.watershedLayer), Volume.open(result.agglomeratedLayer)]);
    const whole = scaleBounds(watershed.scale(0));
    const mapping = await loadMapping(watershed, 0.6, whole);
    expect(mapping.size).toBeGreaterThan(0);

    // Mip 0 is the watershed through the mapping; every label written is a region id (no key of the mapping).
    const ws = (await watershed.read(0, whole)) as BigUint64Array;
    const want = ws.map((l) => mapping.get(l) ?? l);
    const got = (await agglomerated.read(0, whole)) as BigUint64Array;
    expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer))).toBe(true);
    for (const l of new Set(got)) expect(mapping.has(l), `label ${l}`).toBe(false);
    // Every region id maps from labels that are all in one connected agglomerate: ids are their smallest label.
    for (const [label, id] of mapping) expect(id < label).toBe(true);

    // The mips equal downsampling the remapped mip 0 (an independent brute-force mode).
    expect(agglomerated.info.scales.length).toBeGreaterThan(1);
    const pyramid = referencePyramid(agglomerated.info, got);
    for (let mip = 1; mip < agglomerated.info.scales.length; mip++) {
      const level = await agglomerated.read(mip, scaleBounds(agglomerated.scale(mip)));
      expect(Array.from(level as BigUint64Array), `mip ${mip}`).toEqual(pyramid[mip]);
    }

    // Meshes: a sharded multi-resolution mesh for every region id in the layer, each closed at lod 0.
    const meshDir = join(result.agglomeratedLayer.replace(/^file:\/\//, ''), 'mesh');
    const ids = new Set([...new Set(got)].filter((l) => l !== 0n));
    expect(await meshedSegments(meshDir)).toEqual(ids);
    for (const id of [...ids].slice(0, 20)) {
      const mesh = (await readSegmentMesh(meshDir, id))!;
      expect(mesh.info.sharding, `segment ${id}`).toBeDefined();
      const lod0 = weld(mesh.fragments.filter((f) => f.lod === 0).map((f) => ({ positions: f.stored, triangles: f.triangles })));
      expect(openEdges(lod0), `segment ${id}`).toBe(0);
    }

    // Skeletons (sharded, 8 Skeletonize tasks): each read by the independent readers lies inside its
    // segment, is one tree where the segment is one piece, and covers the segment's voxels with its
    // vertices' balls (4 x radius, the default TEASAR scale).
    const skeletonDir = join(result.agglomeratedLayer.replace(/^file:\/\//, ''), 'skeletons');
    const skeletonInfo = JSON.parse(await readFile(join(skeletonDir, 'info'), 'utf8')) as { sharding: SpecJson; vertex_attributes: [] };
    let voxels = 0,
      covered = 0,
      skeletons = 0;
    for (const [id, members] of segmentVoxels(got, size)) {
      // Each Skeletonize box (64x64x32) leaves out its pieces of fewer than 100 voxels (dust).
      const kept = pieces(got, size, id, members, [64, 64, 32]).filter((p) => p.length >= 100);
      const shard = new Uint8Array(await readFile(join(skeletonDir, shardFileOf(id, skeletonInfo.sharding))));
      const bytes = chunkFromShardFile(shard, id, skeletonInfo.sharding);
      expect(Boolean(bytes), `segment ${id}: a skeleton where a box holds 100 voxels of it in one piece`).toBe(kept.length > 0);
      if (!bytes) continue;
      const s = readSkeleton(bytes, skeletonInfo);
      const n = s.positions.length / 3;
      const radius = s.attributes.get('radius')!;
      skeletons++;
      const at = (k: number) => [0, 1, 2].map((d) => s.positions[3 * k + d]);
      for (let k = 0; k < n; k++) {
        const [x, y, z] = at(k).map(Math.floor);
        expect(got[x + size[0] * (y + size[1] * z)], `segment ${id} vertex ${at(k)}`).toBe(id);
      }
      const root = Array.from({ length: n }, (_, i) => i);
      const find = (i: number): number => (root[i] === i ? i : (root[i] = find(root[i])));
      for (let e = 0; e < s.edges.length; e += 2) root[find(s.edges[e])] = find(s.edges[e + 1]);
      if (pieces(got, size, id, members).length === 1) expect(new Set(root.map((_, i) => find(i))).size, `segment ${id}: skeleton pieces`).toBe(1);
      for (const v of kept.flat()) {
        const p = [v % size[0], Math.floor(v / size[0]) % size[1], Math.floor(v / (size[0] * size[1]))].map((c) => c + 0.5);
        voxels++;
        // Resolution 8 nm a voxel: the radius (nm) over 8 in voxels.
        for (let k = 0; k < n; k++) if (Math.hypot(...at(k).map((c, d) => c - p[d])) <= (4 * radius[k]) / 8 + 1e-6) (covered++, (k = n));
      }
    }
    expect(skeletons).toBeGreaterThan(5);
    console.log(`demo skeletons: ${skeletons}, ${covered} of ${voxels} voxels inside a vertex's ball`);
    expect(covered).toBe(voxels);

    // The true cells: the watershed cuts them at its task borders, the agglomeration joins them,
    // and merges no two cells.
    const truth = synthesize(box([0, 0, 0], size)).labels;
    const before = borderCuts(truth, ws, size, [32, 32, 16]),
      after = borderCuts(truth, got, size, [32, 32, 16]);
    expect(before.pairs).toBeGreaterThan(1000);
    expect(before.cut).toBe(before.pairs);
    expect(after.cut).toBe(0);
    expect(labelsAcrossCells(truth, got)).toBe(0);

    // Bad input, named.
    const remap = { kind: 'remap', layer_path_segmentation: result.watershedLayer, layer_path: result.agglomeratedLayer, threshold: 0.6 };
    await expect(runTask({ ...remap, chunk_position: '1-33_0-32_0-16' })).rejects.toThrow(
      /Remap task: chunk_position 1-33_0-32_0-16 is not made of whole chunks/,
    );
    await expect(runTask({ ...remap, threshold: 0.7, chunk_position: '0-32_0-32_0-16' })).rejects.toThrow(
      /Remap task: no mapping .*agglomeration\/0\.7\/mapping\/info/,
    );
    const block = { kind: 'agglomerate_block', layer_path_segmentation: result.watershedLayer, threshold: 0.6, block: 1, level: 0 };
    await expect(runTask({ ...block, block_position: '0-32_0-32_0-16', layer_path_segmentation: result.agglomeratedLayer })).rejects.toThrow(
      /mean_graph\/chunks\/0-32_0-32_0-16\.graph is missing \(run the MeanGraph tasks first\)/,
    );
    await expect(runTask({ ...block, block_position: '0-64_0-32_0-16' })).rejects.toThrow(/block_position 0-64_0-32_0-16 is not a level 0 block of 1 chunks/);
    await expect(runTask({ ...block, level: 9, block_position: '0-32_0-32_0-16' })).rejects.toThrow(/level 9 is above the root's 2/);
    await expect(runTask({ ...block, threshold: 2, block_position: '0-32_0-32_0-16' })).rejects.toThrow(/threshold.*must be at most 1/);
  });

  it('writes the same mapping, byte for byte, for every block size', async () => {
    const out = await mkdtemp(join(tmpdir(), 'digest-blockwise-'));
    const size: Vec3 = [96, 80, 48];
    const result = await runDemo({ out, size, buildSize: [64, 64, 32], chunkSize: [16, 16, 16], execute: runTask, concurrency: 4, progress: false });
    expect(result.summary.dead).toEqual([]);
    const watershed = await Volume.open(result.watershedLayer);
    const files = async () => {
      const keys = (await listAll(watershed.store, `${mappingDir(0.6)}/`)).sort();
      return new Map(await Promise.all(keys.map(async (k) => [k, Buffer.from((await watershed.store.get(k))!).toString('hex')] as const)));
    };
    const demo = await files(); // the demo's default block size
    expect(demo.size).toBeGreaterThan(1);
    const whole = scaleBounds(watershed.scale(0));
    const mapping = await loadMapping(watershed, 0.6, whole);
    expect(mapping.size).toBeGreaterThan(100);
    // The mapping is the brute force's on the whole watershed's voxel edges; the exported graph is its graph.
    const labels = (await watershed.read(0, whole)) as BigUint64Array;
    const affinities = (await (await Volume.open(result.affinityLayer)).read(0, whole)) as Float32Array;
    const edges = voxelEdges(labels, affinities, size);
    expect(mapping).toEqual(bruteForceAgglomeration(edges, 0.6));
    const json = join(out, 'graph.json');
    const ran = await runDigest(['graph', 'export', '--layer', result.watershedLayer, '--out', json]);
    expect(ran.stderr).toBe('');
    const exported = JSON.parse(await readFile(json, 'utf8')).edges as [string, string, number, number, number][];
    expect(exported.length).toBe(edges.length);
    const byPair = new Map(edges.map((e) => [`${e.a},${e.b}`, e]));
    for (const [a, b, sum, count, mean] of exported) {
      const e = byPair.get(`${a},${b}`)!;
      expect(count).toBe(Number(e.count));
      expect(sum).toBeCloseTo(Number(e.units) / 2 ** 32, 9);
      expect(mean).toBeCloseTo(sum / count, 12);
    }
    // The estimate counts the chunk graphs' edges (all 90 sampled): as many as distinct label pairs
    // per chunk of the voxel pairs whose upper voxel it holds; fewer edges each level up.
    const perChunk = chunkPairs(labels, size, 16);
    const density = (await measureGraphDensity(watershed, 1000))!;
    expect(density.source).toBe('counted in 90 chunk graph(s)');
    expect(density.edgesPerVoxel * 96 * 80 * 48).toBeCloseTo(perChunk, 6);
    const estimate = estimatePlan(
      await planAgglomerate({ affinitiesPath: result.affinityLayer, segmentationPath: result.watershedLayer, threshold: 0.6, block: 1 }),
      new Map([[result.watershedLayer, watershed.info]]),
      { density },
    );
    const levels = estimate.stages.filter((st) => st.name.startsWith('agglomerate level'));
    expect(levels.length).toBe(4);
    expect(levels[0].edges).toBeCloseTo(perChunk, 6);
    for (let l = 1; l < levels.length; l++) expect(levels[l].edges!).toBeLessThan(levels[l - 1].edges!);
    expect(levels[3].edgesPerTask).toBe(levels[3].edges);
    // One MeanGraph task covers the 6x5x3 chunks at the default --memory; it writes a graph a chunk.
    expect(estimate.stages[0]).toMatchObject({ name: 'mean graph', tasks: 1, objects: 90 });
    expect(estimate.stages[0].edges).toBeCloseTo(perChunk, 6);
    const printed = await runDigest([
      'plan',
      'agglomerate',
      '--affinities',
      result.affinityLayer,
      '--segmentation',
      result.watershedLayer,
      '--threshold',
      '0.6',
      '--block',
      '1',
      '--estimate',
    ]);
    expect(printed.stdout).toMatch(/\| core-hours \| edges read \| edges, largest task/);
    expect(printed.stdout).toContain(`agglomerate level 0 | 90 | 180 |`);
    expect(printed.stdout).toContain('counted in 16 chunk graph(s)');

    // Grid of 6x5x3 chunks: blocks of 1 (4 levels), 2 (3), 3 (2) and 6 (the whole grid, one task).
    for (const block of [1, 2, 3, 6]) {
      await watershed.store.delete(`${mappingDir(0.6)}/info`);
      for (const k of demo.keys()) await watershed.store.delete(k);
      const plan = await planAgglomerate({ affinitiesPath: result.affinityLayer, segmentationPath: result.watershedLayer, threshold: 0.6, block });
      const upToMapping = plan.stages.slice(
        1,
        plan.stages.findIndex((s) => s.name === 'remap'),
      );
      expect(upToMapping.length, `block ${block}`).toBe({ 1: 8, 2: 6, 3: 4, 6: 2 }[block]);
      const summary = await runPlan({ ...plan, stages: upToMapping }, runTask, { concurrency: 4, progress: false });
      expect(summary.dead).toEqual([]);
      expect(await files(), `block ${block}`).toEqual(demo);
    }
  });
});
