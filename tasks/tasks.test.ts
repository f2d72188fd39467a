import { listAll } from '../storage/store.js';
import { describe, expect, it } from 'vitest';
import { encodePng } from '../codecs/png.js';
import { encodeNpy, encodeNpz } from '../sources/npz.js';
import { runPlan } from '../queue/local/run.js';
import { Box, chunkKey, shapeOf, Vec3, voxelCount } from '../common/box.js';
import { TypedArray } from '../common/dtype.js';
import { allChunks, createInfo, Info, LayerSpec, parseInfo, scaleBounds } from '../precomputed/info.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Volume } from '../precomputed/volume.js';
import { openStore } from '../storage/open.js';
import { referencePyramid } from '../test/reference.js';
import { planDownsample, planIngest } from './plan/planners.js';
import { runTask } from './registry.js';
import { parseTask } from './registry.js';

let layerCount = 0;
const fresh = (name: string) => `mem://tasks-${name}-${layerCount++}`;

/** Deterministic, label-like or image-like data over a box, by coordinates. */
function valuesFor(b: Box, kind: 'image' | 'labels'): number[] {
  const out: number[] = [];
  for (let z = b.start[2]; z < b.stop[2]; z++)
    for (let y = b.start[1]; y < b.stop[1]; y++)
      for (let x = b.start[0]; x < b.stop[0]; x++) {
        out.push(kind === 'image' ? (x * 7 + y * 13 + z * 29 + ((x * y) % 11)) % 256 : Math.floor(x / 5) + 3 * Math.floor(y / 7) + 11 * Math.floor(z / 3));
      }
  return out;
}

async function writeBuildChunks(buildUrl: string, bounds: Box, buildSize: Vec3, toArray: (b: Box) => TypedArray, format: 'npz' | 'raw' = 'npz'): Promise<void> {
  const store = openStore(buildUrl);
  for (let z = bounds.start[2]; z < bounds.stop[2]; z += buildSize[2])
    for (let y = bounds.start[1]; y < bounds.stop[1]; y += buildSize[1])
      for (let x = bounds.start[0]; x < bounds.stop[0]; x += buildSize[0]) {
        const b: Box = {
          start: [x, y, z],
          stop: [Math.min(x + buildSize[0], bounds.stop[0]), Math.min(y + buildSize[1], bounds.stop[1]), Math.min(z + buildSize[2], bounds.stop[2])],
        };
        const data = toArray(b);
        const bytes = format === 'npz' ? encodeNpz({ data: encodeNpy(data, shapeOf(b)) }) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        await store.put(`${chunkKey(b)}.${format}`, bytes);
      }
}

async function readAll(volume: Volume, mip: number): Promise<(number | bigint)[]> {
  return Array.from((await volume.read(mip, volume.bounds(mip))) as ArrayLike<number | bigint>);
}

const inProcess = { concurrency: 4, progress: false, retryDelayMs: 1 };

describe('ingest + downsample build the whole pyramid exactly', () => {
  const spec = { size: [50, 37, 20] as Vec3, voxelOffset: [3, 0, 1] as Vec3, resolution: [4, 4, 40] as Vec3, chunkSize: [16, 16, 8] as Vec3 };
  const cases: [string, LayerSpec, (b: Box) => TypedArray][] = [
    [
      'uint8 image, raw, 2x2x1',
      { ...spec, type: 'image', dataType: 'uint8', encoding: 'raw', factor: [2, 2, 1] },
      (b) => Uint8Array.from(valuesFor(b, 'image')),
    ],
    [
      'uint64 segmentation, compressed_segmentation, 2x2x2',
      { ...spec, type: 'segmentation', dataType: 'uint64', encoding: 'compressed_segmentation', blockSize: [8, 8, 4] },
      (b) => BigUint64Array.from(valuesFor(b, 'labels'), (v) => (BigInt(v) << 35n) + 1n),
    ],
    [
      'uint16 image, png, 2x2x2',
      { ...spec, type: 'image', dataType: 'uint16', encoding: 'png' },
      (b) => Uint16Array.from(valuesFor(b, 'image'), (v) => v * 200),
    ],
  ];
  for (const [name, layerSpec, toArray] of cases) {
    it(name, async () => {
      const layer = fresh('pyramid');
      const build = fresh('build');
      const info = createInfo(layerSpec);
      expect(info.scales.length).toBeGreaterThan(2);
      await Volume.create(layer, info);
      await writeBuildChunks(build, scaleBounds(info.scales[0]), [32, 32, 8], toArray);
      const plan = await planIngest({ layerPath: layer, buildPath: build, encoding: 'npz' });
      expect(plan.stages.length).toBeGreaterThan(1); // some mips need downsample tasks
      const summary = await runPlan(plan, runTask, inProcess);
      expect(summary.dead).toEqual([]);
      const volume = await Volume.open(layer);
      const want = referencePyramid(info, toArray(scaleBounds(info.scales[0])) as any);
      for (let mip = 0; mip < info.scales.length; mip++) {
        // Every chunk exists, and every voxel is the brute-force value.
        for (const c of allChunks(info.scales[mip])) expect(await volume.store.exists(volume.chunkPath(mip, c))).toBe(true);
        expect(await readAll(volume, mip)).toEqual(want[mip]);
      }
    });
  }

  it('writes each chunk exactly once across the plan (no two tasks share an output)', async () => {
    const layer = fresh('once');
    const build = fresh('build');
    const info = createInfo({ ...spec, type: 'image', dataType: 'uint8', encoding: 'raw' });
    await Volume.create(layer, info);
    await writeBuildChunks(build, scaleBounds(info.scales[0]), [32, 32, 8], (b) => Uint8Array.from(valuesFor(b, 'image')));
    const puts: string[] = [];
    const plan = await planIngest({ layerPath: layer, buildPath: build, encoding: 'npz' });
    // Record every write to this layer.
    const { MemStore } = await import('../storage/mem-store.js');
    const spy = MemStore.prototype.put;
    MemStore.prototype.put = async function (this: any, key: string, ...rest: any[]) {
      if (this.url === layer) puts.push(key);
      return spy.call(this, key, ...(rest as [any, any]));
    };
    try {
      await runPlan(plan, runTask, inProcess);
    } finally {
      MemStore.prototype.put = spy;
    }
    const chunkPuts = puts.filter((k) => k !== 'info');
    expect(new Set(chunkPuts).size).toBe(chunkPuts.length);
    expect(chunkPuts.length).toBe(info.scales.reduce((n, s) => n + allChunks(s).length, 0));
  });

  it('is idempotent: running the plan again writes the same bytes', async () => {
    const layer = fresh('idem');
    const build = fresh('build');
    const info = createInfo({ ...spec, type: 'segmentation', dataType: 'uint32', encoding: 'compressed_segmentation' });
    await Volume.create(layer, info);
    await writeBuildChunks(build, scaleBounds(info.scales[0]), [32, 32, 8], (b) => Uint32Array.from(valuesFor(b, 'labels')));
    const plan = await planIngest({ layerPath: layer, buildPath: build, encoding: 'npz' });
    const store = openStore(layer);
    await runPlan(plan, runTask, inProcess);
    const snapshot = async () => Promise.all((await listAll(store)).map(async (k) => [k, Array.from((await store.get(k))!)]));
    const first = await snapshot();
    await runPlan(plan, runTask, inProcess);
    expect(await snapshot()).toEqual(first);
  });
});

describe('other build chunk formats', () => {
  it('ingests raw build chunks', async () => {
    const layer = fresh('raw');
    const build = fresh('build');
    const info = createInfo({ type: 'image', dataType: 'float32', size: [20, 20, 10], resolution: [1, 1, 1], chunkSize: [10, 10, 10], encoding: 'raw' });
    await Volume.create(layer, info);
    const toArray = (b: Box) => Float32Array.from(valuesFor(b, 'image'), (v) => v / 3);
    await writeBuildChunks(build, scaleBounds(info.scales[0]), [10, 20, 10], toArray, 'raw');
    const summary = await runPlan(await planIngest({ layerPath: layer, buildPath: build, encoding: 'raw' }), runTask, inProcess);
    expect(summary.dead).toEqual([]);
    const volume = await Volume.open(layer);
    expect(await readAll(volume, 0)).toEqual(Array.from(toArray(scaleBounds(info.scales[0]))));
    const want = referencePyramid(info, toArray(scaleBounds(info.scales[0])));
    (await readAll(volume, 1)).forEach((v, i) => expect(v).toBeCloseTo(Math.fround(want[1][i] as number), 4));
  });

  it('ingests a directory of PNG slices named by absolute z', async () => {
    const layer = fresh('png');
    const build = fresh('build');
    const info = createInfo({
      type: 'image',
      dataType: 'uint8',
      size: [16, 12, 6],
      voxelOffset: [0, 0, 100],
      resolution: [4, 4, 40],
      chunkSize: [8, 8, 3],
      encoding: 'jpeg',
      factor: [2, 2, 1],
    });
    await Volume.create(layer, info);
    const bounds = scaleBounds(info.scales[0]);
    const store = openStore(build);
    for (let z = 100; z < 106; z++) {
      const slice: Box = { start: [0, 0, z], stop: [16, 12, z + 1] };
      await store.put(`0-16_0-12_100-106/${String(z).padStart(4, '0')}.png`, encodePng(Uint8Array.from(valuesFor(slice, 'image')), [16, 12, 1], 1));
    }
    const summary = await runPlan(await planIngest({ layerPath: layer, buildPath: build, encoding: 'png' }), runTask, inProcess);
    expect(summary.dead.map((d) => d.error)).toEqual([]);
    // jpeg is lossy: compare within a tolerance.
    const got = await readAll(await Volume.open(layer), 0);
    const want = valuesFor(bounds, 'image');
    const rms = Math.sqrt(got.reduce((s: number, v, i) => s + (Number(v) - want[i]) ** 2, 0) / want.length);
    expect(rms).toBeLessThan(12);
  });
});

describe('bad input gets a clear error and writes nothing', () => {
  async function layerWithBuild(): Promise<{ layer: string; build: string; info: Info }> {
    const layer = fresh('bad');
    const build = fresh('build');
    const info = createInfo({ type: 'image', dataType: 'uint8', size: [32, 32, 16], resolution: [4, 4, 40], chunkSize: [16, 16, 8], encoding: 'raw' });
    await Volume.create(layer, info);
    return { layer, build, info };
  }
  const written = async (layer: string) => (await listAll(openStore(layer))).filter((k) => k !== 'info');

  it('malformed task JSON, unknown kind, missing and unknown fields, bad choices', async () => {
    await expect(runTask('{"kind": "ingest",')).rejects.toThrow(/^task: not valid JSON/);
    expect(() => parseTask({ kind: 'skeleton' })).toThrow(
      'task: kind must be one of ingest, downsample, mesh, mesh_manifest, mesh_forge, mesh_gather, mesh_merge, segment_properties, watershed, mean_graph, agglomerate_block, agglomerate_names, agglomerate_mapping, remap, shard, transfer, skeletonize, skeleton_gather, skeleton_merge, got "skeleton"',
    );
    expect(() => parseTask({ kind: 'ingest', chunk_path: 'a', layer_path: 'b' })).toThrow('Ingest task: chunk_encoding is missing');
    expect(() => parseTask({ kind: 'downsample', chunk_path: 'a', layer_path: 'b', mip: 1 })).toThrow(
      'Downsample task: mip is not a field (allowed: chunk_path, layer_path, mips)',
    );
    expect(() => parseTask({ kind: 'ingest', chunk_path: 'a', chunk_encoding: 'hdf5', layer_path: 'b' })).toThrow(
      'Ingest task: chunk_encoding must be one of npz, raw, png, got "hdf5"',
    );
    expect(() => parseTask({ kind: 'downsample', chunk_path: 7, layer_path: 'b' })).toThrow('Downsample task: chunk_path must be a non-empty string, got 7');
  });

  it('an unaligned build chunk', async () => {
    const { layer, build } = await layerWithBuild();
    await openStore(build).put('8-24_0-16_0-8.npz', encodeNpz({ data: encodeNpy(new Uint8Array(16 * 16 * 8), [16, 16, 8]) }));
    await expect(runTask({ kind: 'ingest', chunk_path: `${build}/8-24_0-16_0-8.npz`, chunk_encoding: 'npz', layer_path: layer })).rejects.toThrow(
      'Ingest task: chunk_path 8-24_0-16_0-8 is not aligned to chunk size [16,16,8] of scale 4_4_40',
    );
    expect(await written(layer)).toEqual([]);
  });

  it('a build chunk of the wrong dtype, wrong shape, missing or corrupt', async () => {
    const { layer, build } = await layerWithBuild();
    const store = openStore(build);
    const task = (name: string) => ({ kind: 'ingest', chunk_path: `${build}/${name}`, chunk_encoding: 'npz', layer_path: layer });
    await store.put('0-16_0-16_0-8.npz', encodeNpz({ data: encodeNpy(new Uint16Array(16 * 16 * 8), [16, 16, 8]) }));
    await expect(runTask(task('0-16_0-16_0-8.npz'))).rejects.toThrow(
      `Ingest task: chunk_path ${build}/0-16_0-16_0-8.npz: dtype is uint16, layer data_type is uint8`,
    );
    await store.put('16-32_0-16_0-8.npz', encodeNpz({ data: encodeNpy(new Uint8Array(16 * 16 * 4), [16, 16, 4]) }));
    await expect(runTask(task('16-32_0-16_0-8.npz'))).rejects.toThrow(/array has shape \[16,16,4\] x 1 channel\(s\), but its name says \[16,16,8\]/);
    await expect(runTask(task('0-16_16-32_0-8.npz'))).rejects.toThrow(`Ingest task: chunk_path ${build}/0-16_16-32_0-8.npz: file not found`);
    const good = encodeNpz({ data: encodeNpy(new Uint8Array(16 * 16 * 8), [16, 16, 8]) });
    await store.put('16-32_16-32_0-8.npz', good.slice(0, good.length - 30));
    await expect(runTask(task('16-32_16-32_0-8.npz'))).rejects.toThrow(/corrupt zip archive/);
    expect(await written(layer)).toEqual([]);
  });

  it('a downsample of an unaligned chunk, of mip 0, or with a child chunk missing', async () => {
    const { layer } = await layerWithBuild();
    const ds = (chunk_path: string) => runTask({ kind: 'downsample', chunk_path, layer_path: layer });
    await expect(ds('8_8_80/0-10_0-16_0-8')).rejects.toThrow(
      'Downsample task: chunk_path 0-10_0-16_0-8 is not made of whole chunks [16,16,8] of scale 8_8_80 (bounds [0,0,0]-[16,16,8])',
    );
    await expect(ds('4_4_40/0-16_0-16_0-8')).rejects.toThrow(
      'Downsample task: chunk_path 4_4_40/0-16_0-16_0-8 with mips 1 would read below mip 0 (the top mip is 0)',
    );
    await expect(runTask({ kind: 'downsample', chunk_path: '8_8_80/0-16_0-16_0-8', layer_path: layer, mips: 2 })).rejects.toThrow(
      /with mips 2 would read below mip 0/,
    );
    await expect(ds('9_9_9/0-16_0-16_0-8')).rejects.toThrow('scale "9_9_9" is not in this layer (scales: 4_4_40, 8_8_80)');
    await expect(ds('8_8_80/0-16_0-16_0-8')).rejects.toThrow(`chunk ${layer}/4_4_40/0-16_0-16_0-8 is missing`);
    expect(await written(layer)).toEqual([]);
  });

  it('a corrupt chunk in the layer is named when read', async () => {
    const { layer } = await layerWithBuild();
    const volume = await Volume.open(layer);
    for (const c of allChunks(volume.scale(0))) await volume.writeChunk(0, c, new Uint8Array(voxelCount(c)));
    await volume.store.put('4_4_40/16-32_16-32_8-16', new Uint8Array(7), { gzip: true });
    await expect(runTask({ kind: 'downsample', chunk_path: '8_8_80/0-16_0-16_0-8', layer_path: layer })).rejects.toThrow(
      `${layer}/4_4_40/16-32_16-32_8-16: raw chunk has 7 bytes, expected 2048`,
    );
    expect(await volume.store.exists('8_8_80/0-16_0-16_0-8')).toBe(false);
  });

  it('a layer without info, and overlapping build chunks in a plan', async () => {
    await expect(planDownsample({ layerPath: fresh('empty') })).rejects.toThrow(/has no info file/);
    const { layer, build } = await layerWithBuild();
    const store = openStore(build);
    await store.put('0-32_0-32_0-16.npz', new Uint8Array(1));
    await store.put('16-32_0-16_0-8.npz', new Uint8Array(1));
    await expect(planIngest({ layerPath: layer, buildPath: build, encoding: 'npz' })).rejects.toThrow(
      'build chunks overlap: 0-32_0-32_0-16 and 16-32_0-16_0-8 would write the same chunks',
    );
  });
});

describe('gzip of stored chunks', () => {
  const spec = { size: [32, 32, 8] as Vec3, resolution: [4, 4, 40] as Vec3, chunkSize: [16, 16, 8] as Vec3, mips: 0 };
  const stored = async (layerSpec: LayerSpec, data: TypedArray) => {
    const dir = await mkdtemp(join(tmpdir(), 'digest-gzip-'));
    const volume = await Volume.create(`file://${dir}`, createInfo(layerSpec));
    await volume.writeWithin(0, volume.bounds(0), data);
    const path = join(dir, volume.chunkPath(0, allChunks(volume.scale(0))[0]));
    const plain = await readFile(path).catch(() => undefined);
    const zipped = await readFile(path + '.gz').catch(() => undefined);
    const reread = await (await Volume.open(`file://${dir}`)).read(0, volume.bounds(0));
    await rm(dir, { recursive: true });
    return { plain, zipped, reread };
  };
  const image = () => Uint8Array.from({ length: 32 * 32 * 8 }, (_, i) => (i * 2654435761) >>> 24);

  it('is chosen by encoding: raw images gzipped, jpeg not', async () => {
    const raw = await stored({ ...spec, type: 'image', dataType: 'uint8', encoding: 'raw' }, image());
    expect(raw.plain).toBeUndefined();
    expect(gunzipSync(raw.zipped!).subarray(0, 16)).toEqual(Buffer.from(image().subarray(0, 16)));
    expect(raw.reread).toEqual(image());
    const jpeg = await stored({ ...spec, type: 'image', dataType: 'uint8', encoding: 'jpeg' }, image());
    expect(jpeg.zipped).toBeUndefined();
    expect(jpeg.plain!.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
  });

  it("follows the layer's setting: off, or a level", async () => {
    const off = await stored({ ...spec, type: 'image', dataType: 'uint8', encoding: 'raw', gzip: false }, image());
    expect(off.zipped).toBeUndefined();
    expect(off.plain!.length).toBe(16 * 16 * 8);
    const labels = BigUint64Array.from({ length: 32 * 32 * 8 }, (_, i) => BigInt(i >> 7));
    const [fast, small] = await Promise.all(
      [1, 9].map((level) => stored({ ...spec, type: 'segmentation', dataType: 'uint64', encoding: 'raw', gzip: { level, strategy: 'default' } }, labels)),
    );
    expect(fast.reread).toEqual(labels);
    expect(small.zipped!.length).toBeLessThan(fast.zipped!.length);
  });

  it('rejects a bad setting in the info, naming it', () => {
    const info = createInfo({ ...spec, type: 'image', dataType: 'uint8', encoding: 'raw' });
    expect(() => parseInfo({ ...info, gzip: { level: 12 } })).toThrow(/info: gzip.*level/);
    expect(() => parseInfo({ ...info, gzip: true })).toThrow(/info: gzip/);
  });
});
