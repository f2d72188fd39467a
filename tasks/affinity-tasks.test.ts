import { describe, expect, it } from 'vitest';
import { mergedEdges } from '../affinities/mean-graph.js';
import { decodeRegionGraph, encodeRegionGraph, RegionGraph } from '../affinities/region-graph.js';
import { runPlan } from '../queue/local/run.js';
import { box, Vec3 } from '../common/box.js';
import { allChunks, createInfo, chunkBox, gridShape } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { seededRandom } from '../test/reference.js';
import { voxelEdges } from '../test/reference-agglomeration.js';
import { chunkGraphKey } from './mean-graph.js';
import { planMeanGraph } from './plan/planners.js';
import { stageSize } from './plan/format.js';
import { runTask } from './registry.js';

let count = 0;
const size: Vec3 = [40, 36, 20];
const chunk: Vec3 = [16, 16, 8];
const offset: Vec3 = [5, 0, 2];
const bounds = box(offset, [45, 36, 22]);
const n = size[0] * size[1] * size[2];

/** Blocky labels (some 0) and random affinities over the whole volume, x fastest, channel-major. */
function volumeData(seed: number) {
  const random = seededRandom(seed);
  const labels = new BigUint64Array(n);
  let i = 0;
  for (let z = 0; z < size[2]; z++)
    for (let y = 0; y < size[1]; y++)
      for (let x = 0; x < size[0]; x++, i++) {
        const cell = Math.floor(x / 7) + 10 * Math.floor(y / 9) + 100 * Math.floor(z / 5);
        labels[i] = (x + y) % 13 === 0 ? 0n : (BigInt(cell) << 33n) + 1n; // ids above 2^32
      }
  const affinities = Float32Array.from({ length: 3 * n }, () => random());
  return { labels, affinities };
}

async function layers(labels: BigUint64Array | Uint32Array, affinities: Float32Array) {
  const segUrl = `mem://graph-seg-${count}`,
    affUrl = `mem://graph-aff-${count++}`;
  const common = { size, voxelOffset: offset, resolution: [4, 4, 40] as Vec3, chunkSize: chunk, mips: 0 };
  const seg = await Volume.create(
    segUrl,
    createInfo({ ...common, type: 'segmentation', dataType: labels instanceof BigUint64Array ? 'uint64' : 'uint32', encoding: 'compressed_segmentation' }),
  );
  const aff = await Volume.create(affUrl, createInfo({ ...common, type: 'image', dataType: 'float32', numChannels: 3, encoding: 'raw' }));
  await seg.writeChunks(0, allChunks(seg.scale(0)), labels, bounds);
  await aff.writeChunks(0, allChunks(aff.scale(0)), affinities, bounds);
  return { segUrl, affUrl, seg, aff };
}

/** Per chunk (grid cell), by brute force: each label with voxels in it, and the faces (FACE_BITS) it touches. */
function bruteForceRegions(labels: BigUint64Array, cell: Vec3): Map<bigint, number> {
  const out = new Map<bigint, number>();
  const lo = cell.map((c, d) => c * chunk[d]),
    hi = cell.map((c, d) => Math.min((c + 1) * chunk[d], size[d]));
  for (let z = lo[2]; z < hi[2]; z++)
    for (let y = lo[1]; y < hi[1]; y++)
      for (let x = lo[0]; x < hi[0]; x++) {
        const l = labels[x + size[0] * (y + size[1] * z)];
        if (l === 0n) continue;
        let f = 0;
        [x, y, z].forEach((p, d) => {
          if (p === lo[d] && lo[d] > 0) f |= 1 << d;
          if (p === hi[d] - 1 && hi[d] < size[d]) f |= 8 << d;
        });
        out.set(l, (out.get(l) ?? 0) | f);
      }
  return out;
}

describe('MeanGraph', () => {
  it("writes chunk graphs that add up to a brute-force graph of the whole volume, exactly, with each chunk's regions and faces", async () => {
    const { labels, affinities } = volumeData(3);
    const { segUrl, affUrl, seg } = await layers(labels, affinities);
    // At the default --memory one task covers the 3x3x3 chunks; one task per chunk writes the same files.
    const plan = await planMeanGraph({ affinitiesPath: affUrl, segmentationPath: segUrl });
    expect(plan.stages.map((s) => stageSize(s))).toEqual([1]);
    const summary = await runPlan(plan, runTask, { concurrency: 4, progress: false, retryDelayMs: 1 });
    expect(summary.dead).toEqual([]);
    const read = async () => {
      const graphs: RegionGraph[] = [];
      const files: string[] = [];
      const [gx, gy, gz] = gridShape(seg.scale(0));
      for (let z = 0; z < gz; z++)
        for (let y = 0; y < gy; y++)
          for (let x = 0; x < gx; x++) {
            const key = chunkGraphKey(chunkBox(seg.scale(0), [x, y, z]));
            const bytes = (await seg.store.get(key))!;
            files.push(Buffer.from(bytes).toString('hex'));
            const g = decodeRegionGraph(bytes, key, 'chunk');
            graphs.push(g);
            // Every label inside, with its faces; the others listed are below a low face, reached by an edge.
            const inside = new Map<bigint, number>();
            for (let i = 0; i < g.regions.length; i++) if (g.regions.inside[i]) inside.set(g.regions.label[i], g.regions.faces[i]);
            const want = bruteForceRegions(labels, [x, y, z]);
            // Every face a label touches is marked; beyond those only low faces (a label reached across one).
            for (const [l, f] of want) expect(f & ~(inside.get(l) ?? 0), `chunk ${[x, y, z]} label ${l}`).toBe(0);
            expect(new Set(inside.keys())).toEqual(new Set(want.keys()));
            for (const [l, f] of inside) expect(f & ~want.get(l)! & 0x38, `chunk ${[x, y, z]} label ${l}: high faces`).toBe(0);
          }
      return { graphs, files };
    };
    const { graphs, files } = await read();
    const merged = mergedEdges(graphs);
    const want = new Map(voxelEdges(labels, affinities, size).map((e) => [`${e.a},${e.b}`, e]));
    expect(merged.length).toBe(want.size);
    expect(want.size).toBeGreaterThan(100);
    for (const e of merged) {
      const w = want.get(`${e.a},${e.b}`)!;
      expect(BigInt(e.count)).toBe(w.count);
      expect(BigInt(e.whole) * 2n ** 32n + BigInt(e.fraction)).toBe(w.units);
    }
    // Rerunning is harmless, and any grouping of chunks into tasks gives the same files.
    const perChunk = await planMeanGraph({ affinitiesPath: affUrl, segmentationPath: segUrl, taskChunks: 1 });
    expect(perChunk.stages.map((s) => stageSize(s))).toEqual([3 * 3 * 3]);
    const again = await runPlan(perChunk, runTask, { concurrency: 4, progress: false, retryDelayMs: 1 });
    expect(again.dead).toEqual([]);
    expect((await read()).files).toEqual(files);
  });

  it('refuses unaligned boxes, wrong layers and bad affinities, naming the field', async () => {
    const { labels, affinities } = volumeData(7);
    const { segUrl, affUrl } = await layers(labels, affinities);
    const task = (extra: object) => ({
      kind: 'mean_graph',
      chunk_position: '5-21_0-16_2-10',
      layer_path_affinities: affUrl,
      layer_path_segmentation: segUrl,
      ...extra,
    });
    await expect(runTask(task({ chunk_position: '6-22_0-16_2-10' }))).rejects.toThrow(
      'MeanGraph task: chunk_position 6-22_0-16_2-10 is not made of whole chunks [16,16,8] of scale 4_4_40 (bounds [5,0,2]-[45,36,22])',
    );
    await expect(runTask(task({ layer_path_affinities: segUrl }))).rejects.toThrow(
      `MeanGraph task: layer_path_affinities ${segUrl} is uint64 with 1 channel(s); affinities must be float32 with 3 channels (x, y, z edges)`,
    );
    await expect(runTask(task({ layer_path_segmentation: 'mem://nothing-here' }))).rejects.toThrow(
      'MeanGraph task: layer_path_segmentation: layer mem://nothing-here has no info file',
    );
    const bad = Float32Array.from(affinities);
    bad[5] = Number.NaN;
    const other = await layers(labels, bad);
    await expect(runTask({ ...task({}), layer_path_affinities: other.affUrl })).rejects.toThrow(
      /MeanGraph task: layer_path_affinities .* affinity NaN .* is outside \[0, 1\]/,
    );
  });
});

describe('Watershed task', () => {
  /** Two 8x8x8 blocks of strong affinities side by side (x 5..13 and 13..21), joined by a weak face. */
  function twoBlocks(): Float32Array {
    const affinities = new Float32Array(3 * n);
    for (let z = 0; z < 8; z++)
      for (let y = 0; y < 8; y++)
        for (let x = 0; x < 16; x++) {
          const v = x + size[0] * (y + size[1] * z);
          if (x > 0) affinities[v] = x === 8 ? 0.3 : 0.9;
          if (y > 0) affinities[n + v] = 0.9;
          if (z > 0) affinities[2 * n + v] = 0.9;
        }
    return affinities;
  }
  const params = { high_threshold: 0.99, low_threshold: 0.1, merge_threshold: 0.5, merge_size: 0, dust_size: 0 };

  it('segments the box, writes only the crop, with labels unique to the crop chunk', async () => {
    const { segUrl, affUrl, seg } = await layers(new BigUint64Array(n).fill(99n), twoBlocks());
    const result = await runTask({
      kind: 'watershed',
      chunk_position: '5-29_0-16_2-12',
      crop_position: '5-21_0-16_2-10',
      layer_path_affinities: affUrl,
      layer_path_segmentation: segUrl,
      ...params,
    });
    expect(result).toMatchObject({ kind: 'watershed', chunksWritten: 1 });
    const written = (await seg.read(0, box([5, 0, 2], [21, 16, 10]))) as BigUint64Array;
    const at = (x: number, y: number, z: number) => written[x + 16 * (y + 16 * z)];
    // Crop chunk (0, 0, 0): index 0, so labels 1 and 2 in order of first voxel; the rest is 0.
    expect(at(0, 0, 0)).toBe(1n);
    expect(at(7, 7, 7)).toBe(1n);
    expect(at(8, 0, 0)).toBe(2n);
    expect(at(15, 7, 7)).toBe(2n);
    expect(at(0, 8, 0)).toBe(0n);
    // Outside the crop nothing is written: the chunk next to it still holds the layer's 99s.
    expect(new Set((await seg.read(0, box([21, 0, 2], [37, 16, 10]))) as BigUint64Array)).toEqual(new Set([99n]));
    // A larger box cropped to the next chunk, which the blocks do not reach: all 0 there.
    await runTask({
      kind: 'watershed',
      chunk_position: '5-37_0-16_2-12',
      crop_position: '21-37_0-16_2-10',
      layer_path_affinities: affUrl,
      layer_path_segmentation: segUrl,
      ...params,
    });
    const next = (await seg.read(0, box([21, 0, 2], [37, 16, 10]))) as BigUint64Array;
    expect(new Set(next)).toEqual(new Set([0n]));
    // With a low merge threshold the blocks (512 voxels each) merge when merge_size exceeds 512.
    await runTask({
      kind: 'watershed',
      chunk_position: '5-21_0-16_2-10',
      layer_path_affinities: affUrl,
      layer_path_segmentation: segUrl,
      ...params,
      merge_threshold: 0.2,
      merge_size: 513,
    });
    const merged = (await seg.read(0, box([5, 0, 2], [21, 16, 10]))) as BigUint64Array;
    expect(new Set(merged)).toEqual(new Set([0n, 1n]));
  });

  it('uses the crop chunk index for the label space', async () => {
    const shifted = new Float32Array(3 * n);
    // A block of strong affinities inside chunk grid (1, 1, 0): x 21..37, y 16..32.
    for (let z = 1; z < 6; z++)
      for (let y = 17; y < 30; y++) for (let x = 17; x < 30; x++) for (let c = 0; c < 3; c++) shifted[c * n + x + size[0] * (y + size[1] * z)] = 0.8;
    const { segUrl, affUrl, seg } = await layers(new BigUint64Array(n), shifted);
    await runTask({ kind: 'watershed', chunk_position: '21-37_16-32_2-10', layer_path_affinities: affUrl, layer_path_segmentation: segUrl, ...params });
    const labels = new Set((await seg.read(0, box([21, 16, 2], [37, 32, 10]))) as BigUint64Array);
    // Grid (1, 1, 0) of a 3 x 3 x 3 grid: index 1 + 3 * 1 = 4.
    expect(labels).toEqual(new Set([0n, (4n << 32n) + 1n]));
  });

  it('refuses bad crops, thresholds and layers, naming the field', async () => {
    const { segUrl, affUrl } = await layers(new BigUint64Array(n), twoBlocks());
    const task = (extra: object) => ({
      kind: 'watershed',
      chunk_position: '5-29_0-16_2-12',
      crop_position: '5-21_0-16_2-10',
      layer_path_affinities: affUrl,
      layer_path_segmentation: segUrl,
      ...params,
      ...extra,
    });
    await expect(runTask(task({ crop_position: '6-22_0-16_2-10' }))).rejects.toThrow(
      'Watershed task: crop_position 6-22_0-16_2-10 is not made of whole chunks [16,16,8] of scale 4_4_40',
    );
    await expect(runTask(task({ crop_position: '5-37_0-16_2-10' }))).rejects.toThrow(
      'Watershed task: crop_position 5-37_0-16_2-10 is not inside chunk_position 5-29_0-16_2-12',
    );
    await expect(runTask(task({ crop_position: undefined }))).rejects.toThrow('Watershed task: chunk_position 5-29_0-16_2-12 is not made of whole chunks');
    await expect(runTask(task({ chunk_position: '5-29_0-16_2-40' }))).rejects.toThrow(
      "Watershed task: chunk_position 5-29_0-16_2-40 is outside the layers' bounds [5,0,2]-[45,36,22]",
    );
    await expect(runTask(task({ low_threshold: 0.5, high_threshold: 0.4 }))).rejects.toThrow('Watershed task: low_threshold 0.5 is above high_threshold 0.4');
    await expect(runTask(task({ merge_threshold: 1.5 }))).rejects.toThrow('Watershed task: merge_threshold must be a number in [0, 1], got 1.5');
    await expect(runTask(task({ dust_size: -1 }))).rejects.toThrow('Watershed task: dust_size must be an integer');
    const small = await layers(new Uint32Array(n), twoBlocks());
    await expect(runTask({ ...task({}), layer_path_segmentation: small.segUrl, layer_path_affinities: small.affUrl })).rejects.toThrow(
      `Watershed task: layer_path_segmentation ${small.segUrl} is uint32; watershed writes uint64 labels (chunk index << 32 + n)`,
    );
  });
});
