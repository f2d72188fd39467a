import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CorruptData } from '../common/errors.js';
import { encodeNpy, encodeNpz } from '../sources/npz.js';
import { decodeChunk } from '../codecs/registry.js';
import { chunkFormat } from './info.js';
import { runPlan } from '../queue/local/run.js';
import { openStore } from '../storage/open.js';
import { listAll, Store } from '../storage/store.js';
import { downsampleStages, planIngest, planTransfer, shardSet } from '../tasks/plan/planners.js';
import { runTask } from '../tasks/registry.js';
import { referencePyramid, seededRandom } from '../test/reference.js';
import { chunkFromShardFile, hashId, mortonCode, shardFileOf, SpecJson } from '../test/sharded-reader.js';
import { Box, box, chunkKey, contains, formatBox, shapeOf, Vec3, voxelCount } from '../common/box.js';
import { memRequests } from '../storage/mem-store.js';
import { downsampleSlabs, slabsOf } from '../tasks/pyramid.js';
import { TaskSet } from '../tasks/plan/format.js';
import { allChunks, chunkBox, createInfo, gridShape, Info, LayerSpec, scaleBounds } from './info.js';
import { ShardedScale } from './sharded-scale.js';
import { cellOfMortonCode, compactShardShape, compressedMortonCode, encodeShard, murmurHash3x86_128Low64, ShardingSpec } from './sharding.js';
import { Volume } from './volume.js';

const spec = (s: Partial<ShardingSpec>): ShardingSpec => ({
  '@type': 'neuroglancer_uint64_sharded_v1',
  preshift_bits: 0,
  hash: 'identity',
  minishard_bits: 0,
  shard_bits: 0,
  minishard_index_encoding: 'raw',
  data_encoding: 'raw',
  ...s,
});

describe('chunk ids and hashes', () => {
  it('murmurhash3_x86_128 matches the vectors tensorstore checks (from pymmh3), and murmurhash3js', () => {
    expect(murmurHash3x86_128Low64(0n)).toBe(0x4772b084e028ae41n);
    expect(murmurHash3x86_128Low64(1n)).toBe(0xe8bd67d616d4ce9an);
    expect(murmurHash3x86_128Low64(42n)).toBe(0xc20b94f95119f47an);
    expect(murmurHash3x86_128Low64(0n, 1)).toBe(0x543371085ad58a7en);
    const random = seededRandom(7);
    for (let i = 0; i < 200; i++) {
      const id = (BigInt(Math.floor(random() * 2 ** 32)) << 32n) | BigInt(Math.floor(random() * 2 ** 32));
      expect(murmurHash3x86_128Low64(id)).toBe(hashId(id, { preshift_bits: 0, hash: 'murmurhash3_x86_128', minishard_bits: 0, shard_bits: 0 }));
    }
  });

  it('compressed Morton codes match an independent implementation and invert', () => {
    const random = seededRandom(11);
    for (const grid of [
      [1, 1, 1],
      [16, 1, 1],
      [5, 9, 3],
      [1000, 3, 70000],
      [2, 3, 5],
    ] as Vec3[]) {
      for (let i = 0; i < 50; i++) {
        const g = grid.map((n) => Math.floor(random() * n)) as Vec3;
        const code = compressedMortonCode(g, grid);
        expect(code).toBe(mortonCode(g, grid));
        expect(cellOfMortonCode(code, grid)).toEqual(g);
      }
    }
  });

  it('puts cells in the shards tensorstore does: grid [2,3,5], preshift 1, minishard 2, shard 3', () => {
    // tensorstore driver_test FullShardWriteTest: full shard shape [2,2,2] chunks; shard 5's origin is chunk (0,2,4).
    const s = new ShardedScale(openStore('mem://geometry'), '1_1_1', spec({ preshift_bits: 1, minishard_bits: 2, shard_bits: 3 }), [2, 3, 5]);
    expect(s.compactShape).toEqual([2, 2, 2]);
    const origins: [number, Vec3][] = [
      [0, [0, 0, 0]],
      [1, [0, 2, 0]],
      [2, [0, 0, 2]],
      [3, [0, 2, 2]],
      [4, [0, 0, 4]],
      [5, [0, 2, 4]],
    ];
    for (const [shard, origin] of origins) {
      expect(s.shardOf(origin)).toBe(shard);
      expect(s.cellsOf(shard)[0]).toEqual(origin);
    }
    expect(s.cellsOf(5)).toEqual([
      [0, 2, 4],
      [1, 2, 4],
    ]); // clipped by the grid
    expect(s.shards()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(compactShardShape(spec({ hash: 'murmurhash3_x86_128', preshift_bits: 1, minishard_bits: 2, shard_bits: 3 }), [2, 3, 5])).toBeNull();
    expect(compactShardShape(spec({ preshift_bits: 1, minishard_bits: 2, shard_bits: 1 }), [2, 3, 5])).toBeNull(); // wraps around
  });
});

describe('a shard file written by tensorstore', () => {
  const fixture = new Uint8Array(readFileSync(new URL('../test/fixtures/tensorstore-identity-raw.shard', import.meta.url)));
  const tsSpec = spec({ minishard_bits: 1 });

  it('is read by digest, and digest writes the same bytes for the same chunks', async () => {
    const store = openStore(`mem://tensorstore-${Date.now()}`);
    await store.put('s/0.shard', fixture);
    const s = new ShardedScale(store, 's', tsSpec, [16, 1, 1]); // along x alone, the Morton code of cell x is x
    expect(Array.from((await s.readChunk([2, 0, 0], 100))!)).toEqual([1, 2, 3, 4]);
    expect(Array.from((await s.readChunk([8, 0, 0], 100))!)).toEqual([6, 7, 8]);
    expect(Array.from((await s.readChunk([3, 0, 0], 100))!)).toEqual([9, 10]);
    expect(await s.readChunk([5, 0, 0], 100)).toBeNull();
    const ours = encodeShard(
      [
        { id: 8n, bytes: Uint8Array.of(6, 7, 8) },
        { id: 3n, bytes: Uint8Array.of(9, 10) },
        { id: 2n, bytes: Uint8Array.of(1, 2, 3, 4) },
      ],
      tsSpec,
    );
    expect(Array.from(ours)).toEqual(Array.from(fixture));
  });

  it('reads a chunk in at most three ranged reads, then one per chunk of a cached minishard', async () => {
    const store = openStore(`mem://ranges-${Date.now()}`);
    await store.put('s/0.shard', fixture);
    const reads: string[] = [];
    const counting: Store = {
      ...store,
      url: store.url,
      getRange: (k, o, n) => {
        reads.push(`${o}+${n}`);
        return store.getRange(k, o, n);
      },
    };
    const s = new ShardedScale(counting, 's', tsSpec, [16, 1, 1]);
    await s.readChunk([2, 0, 0], 100);
    expect(reads).toEqual(['0+32', '39+48', '32+4']); // shard index, minishard index, chunk
    await s.readChunk([8, 0, 0], 100);
    expect(reads.length).toBe(4);
    await s.readChunk([3, 0, 0], 100); // the other minishard: its index, then the chunk
    expect(reads.length).toBe(6);
  });

  it('names the shard when it is truncated', async () => {
    const store = openStore(`mem://truncated-${Date.now()}`);
    await store.put('s/0.shard', fixture.slice(0, 50));
    const s = new ShardedScale(store, 's', tsSpec, [16, 1, 1]);
    await expect(s.readChunk([2, 0, 0], 100)).rejects.toThrow(CorruptData);
    await expect(s.readChunk([2, 0, 0], 100)).rejects.toThrow(/s\/0\.shard \(minishard 0\): the shard file ends inside the minishard index/);
  });
});

/** Deterministic values over a box, image-like or label-like, by global coordinate. */
function values(b: Box, kind: 'image' | 'labels'): number[] {
  const out: number[] = [];
  for (let z = b.start[2]; z < b.stop[2]; z++)
    for (let y = b.start[1]; y < b.stop[1]; y++)
      for (let x = b.start[0]; x < b.stop[0]; x++) {
        out.push(kind === 'image' ? (x * 7 + y * 13 + z * 29 + ((x * y) % 11)) % 256 : 1 + Math.floor(x / 5) + 3 * Math.floor(y / 7) + 11 * Math.floor(z / 3));
      }
  return out;
}

async function writeBuild(url: string, bounds: Box, size: Vec3, array: (b: Box) => Uint8Array | BigUint64Array): Promise<void> {
  const store = openStore(url);
  for (let z = bounds.start[2]; z < bounds.stop[2]; z += size[2])
    for (let y = bounds.start[1]; y < bounds.stop[1]; y += size[1])
      for (let x = bounds.start[0]; x < bounds.stop[0]; x += size[0]) {
        const b: Box = {
          start: [x, y, z],
          stop: [Math.min(x + size[0], bounds.stop[0]), Math.min(y + size[1], bounds.stop[1]), Math.min(z + size[2], bounds.stop[2])],
        };
        await store.put(`${chunkKey(b)}.npz`, encodeNpz({ data: encodeNpy(array(b), shapeOf(b)) }));
      }
}

/** Every chunk of every scale through the independent reader, against the brute-force pyramid. */
async function checkWithIndependentReader(layer: string, info: Info, mip0: ArrayLike<number | bigint>): Promise<number> {
  const store = openStore(layer);
  const want = referencePyramid(info, mip0);
  let chunks = 0;
  for (const [mip, scale] of info.scales.entries()) {
    const grid = gridShape(scale);
    const bounds = scaleBounds(scale);
    const shardSpec = scale.sharding as SpecJson;
    const files = new Map<string, Uint8Array>();
    for (const c of allChunks(scale)) {
      const g = c.start.map((s, i) => (s - scale.voxel_offset[i]) / scale.chunk_sizes[0][i]);
      const id = mortonCode(g, grid);
      const name = shardFileOf(id, shardSpec);
      if (!files.has(name)) files.set(name, (await store.get(`${scale.key}/${name}`))!);
      const bytes = chunkFromShardFile(files.get(name)!, id, shardSpec);
      expect(bytes, `${scale.key} ${chunkKey(c)}`).not.toBeNull();
      const got = decodeChunk(bytes!, shapeOf(c), chunkFormat(info, scale));
      const expected: (number | bigint)[] = [];
      for (let z = c.start[2]; z < c.stop[2]; z++)
        for (let y = c.start[1]; y < c.stop[1]; y++)
          for (let x = c.start[0]; x < c.stop[0]; x++) {
            const [sx, sy] = shapeOf(bounds);
            expected.push(want[mip][x - bounds.start[0] + sx * (y - bounds.start[1] + sy * (z - bounds.start[2]))]);
          }
      expect(Array.from(got as ArrayLike<number | bigint>), `${scale.key} ${chunkKey(c)}`).toEqual(expected);
      chunks++;
    }
    // Nothing but shard files (and the info) were written.
    expect((await listAll(store, `${scale.key}/`)).every((k) => k.endsWith('.shard'))).toBe(true);
  }
  return chunks;
}

describe('sharded layers written by digest', () => {
  const geometry = { size: [70, 45, 23] as Vec3, voxelOffset: [3, 0, 1] as Vec3, resolution: [4, 4, 40] as Vec3, chunkSize: [8, 8, 4] as Vec3 };
  const settings: [string, Partial<LayerSpec>, Partial<ShardingSpec>?][] = [
    ['identity, gzip indices, computed parameters', {}],
    ['identity, raw indices and data, 2 minishard bits', {}, { minishard_index_encoding: 'raw', data_encoding: 'raw', minishard_bits: 2 }],
    ['identity, preshift 0, many small shards', {}, { preshift_bits: 0, minishard_bits: 1 }],
    ['murmurhash3, gzip', {}, { hash: 'murmurhash3_x86_128', preshift_bits: 2, minishard_bits: 2, shard_bits: 3 }],
    [
      'murmurhash3, raw, one minishard',
      {},
      { hash: 'murmurhash3_x86_128', preshift_bits: 0, minishard_bits: 0, shard_bits: 2, minishard_index_encoding: 'raw' },
    ],
  ];
  for (const [name, , override] of settings) {
    for (const kind of ['image', 'segmentation'] as const) {
      it(`${kind}: ${name}`, async () => {
        const layerSpec: LayerSpec =
          kind === 'image'
            ? { ...geometry, type: 'image', dataType: 'uint8', encoding: 'raw', factor: [2, 2, 1], sharding: { targetBytes: 8 * 8 * 4 * 16 } }
            : {
                ...geometry,
                type: 'segmentation',
                dataType: 'uint64',
                encoding: 'compressed_segmentation',
                blockSize: [4, 4, 2],
                sharding: { targetBytes: 8 * 8 * 4 * 8 * 16 },
              };
        const info = createInfo(layerSpec);
        if (override) for (const s of info.scales) s.sharding = { ...s.sharding!, ...override };
        const layer = `mem://sharded-${kind}-${name.replace(/\W+/g, '-')}`;
        const build = `${layer}-build`;
        await Volume.create(layer, info);
        const array = (b: Box) =>
          kind === 'image' ? Uint8Array.from(values(b, 'image')) : BigUint64Array.from(values(b, 'labels'), (v) => (BigInt(v) << 33n) + 5n);
        await writeBuild(build, scaleBounds(info.scales[0]), [24, 16, 12], array);
        const plan = await planIngest({ layerPath: layer, buildPath: build, encoding: 'npz' });
        expect(plan.stages[0].sets.every((s) => 'template' in s && s.template.kind === 'shard')).toBe(true);
        const summary = await runPlan(plan, runTask, { concurrency: 3, progress: false, retryDelayMs: 1 });
        expect(summary.dead).toEqual([]);
        const chunks = await checkWithIndependentReader(layer, info, array(scaleBounds(info.scales[0])));
        expect(chunks).toBe(info.scales.reduce((n, s) => n + allChunks(s).length, 0));
        // digest's own reader agrees, at every mip.
        const volume = await Volume.open(layer);
        const want = referencePyramid(info, array(scaleBounds(info.scales[0])));
        for (let mip = 0; mip < info.scales.length; mip++)
          expect(Array.from((await volume.read(mip, volume.bounds(mip))) as ArrayLike<number | bigint>)).toEqual(want[mip]);
      });
    }
  }

  it('transfers an unsharded layer into a sharded one and back, chunk bytes unchanged', async () => {
    const info = createInfo({ ...geometry, type: 'segmentation', dataType: 'uint32', encoding: 'compressed_segmentation', blockSize: [8, 8, 4], mips: 2 });
    const plain = `mem://transfer-plain-${Date.now()}`;
    const volume = await Volume.create(plain, info);
    for (let mip = 0; mip < info.scales.length; mip++) {
      const b = volume.bounds(mip);
      await volume.writeChunks(
        mip,
        allChunks(volume.scale(mip)),
        Uint32Array.from(values(b, 'labels'), (v) => v + mip),
        b,
      );
    }
    const sharded = `${plain}-sharded`,
      back = `${plain}-back`;
    const there = await planTransfer({ from: plain, to: sharded, sharding: { targetBytes: 8 * 8 * 4 * 4 * 8 } });
    expect((await runPlan(there, runTask, { concurrency: 2, progress: false })).dead).toEqual([]);
    const again = await planTransfer({ from: sharded, to: back, sharding: 'unsharded' });
    expect(again.stages[0].sets.every((s) => 'template' in s && s.template.kind === 'transfer')).toBe(true);
    expect((await runPlan(again, runTask, { concurrency: 2, progress: false })).dead).toEqual([]);
    const a = openStore(plain),
      c = openStore(back);
    const keys = (await listAll(a)).filter((k) => k !== 'info');
    expect(await listAll(c)).toEqual(await listAll(a));
    for (const k of keys) expect(await c.get(k), k).toEqual(await a.get(k));
    const mid = await Volume.open(sharded);
    expect(mid.info.scales.every((s) => s.sharding)).toBe(true);
    expect((await listAll(openStore(sharded))).filter((k) => k !== 'info').every((k) => k.endsWith('.shard'))).toBe(true);
  });

  it('streams a region in slabs of whole chunks: one chunk layer deep, halved in y then x over the bound, each chunk in one slab', () => {
    // (Offset 0 in x and y, so that the chunk grids of mips 0-2 nest: slabs of whole chunks exist.)
    const info = createInfo({ ...geometry, voxelOffset: [0, 0, 1], type: 'image', dataType: 'uint8', encoding: 'raw', factor: [2, 2, 1], mips: 2 });
    const region = scaleBounds(info.scales[2]);
    expect(formatBox(region)).toBe('[0,0,1]-[18,12,24]'); // 3x2x6 chunks of mip 2, the last ones clipped
    const covered = (slabs: Box[][], j: number, mip: number) => {
      const seen = new Map<string, number>();
      for (const slab of slabs)
        for (const c of allChunks(info.scales[mip]).filter((c) => contains(slab[j], c))) seen.set(chunkKey(c), (seen.get(chunkKey(c)) ?? 0) + 1);
      return seen;
    };
    // Unbounded: one slab per chunk layer of mip 2, the whole region in x and y.
    const layers = downsampleSlabs(info, 2, 2, region);
    expect(layers.map((s) => formatBox(s[2]))).toEqual([0, 1, 2, 3, 4, 5].map((k) => `[0,0,${1 + 4 * k}]-[18,12,${Math.min(24, 5 + 4 * k)}]`));
    expect(formatBox(layers[0][0])).toBe('[0,0,1]-[70,45,5]'); // its source at mip 0
    // A bound of one mip-2 chunk's source: halved in y (2 -> 1 chunk), then in x (3 -> 2 -> 1).
    const perSlab = 8 * 8 * 4 * 16; // mip 0 voxels under one mip-2 chunk (factors 2x2x1 twice)
    const small = downsampleSlabs(info, 2, 2, region, perSlab);
    expect(small.length).toBe(6 * 2 * 3);
    for (const slab of small) expect(voxelCount(slab[0])).toBeLessThanOrEqual(perSlab);
    for (const [j, mip] of [
      [1, 1],
      [2, 2],
    ])
      expect([...covered(small, j, mip).values()].every((n) => n === 1) && covered(small, j, mip).size).toBe(allChunks(info.scales[mip]).length);
    expect(slabsOf(box([0, 0, 0], [10, 10, 3]), [0, 0, 0], [4, 4, 2], 4 * 10 * 2, voxelCount).map(formatBox)).toEqual([
      '[0,0,0]-[10,4,2]',
      '[0,4,0]-[10,8,2]',
      '[0,8,0]-[10,10,2]',
      '[0,0,2]-[10,4,3]',
      '[0,4,2]-[10,8,3]',
      '[0,8,2]-[10,10,3]',
    ]);
  });

  it('a Shard task writes every shard of a region of several from build chunks spanning them, each build chunk read once; refuses part of a shard', async () => {
    const info = createInfo({ ...geometry, type: 'image', dataType: 'uint8', encoding: 'raw', mips: 0, sharding: { targetBytes: 8 * 8 * 4 * 8 } });
    const bucket = `shards-of-builds-${Date.now()}`;
    const layer = `mem://${bucket}/layer`,
      build = `mem://${bucket}/build`;
    await Volume.create(layer, info);
    const array = (b: Box) => Uint8Array.from(values(b, 'image'));
    await writeBuild(build, scaleBounds(info.scales[0]), [32, 32, 16], array);
    const plan = await planIngest({ layerPath: layer, buildPath: build, encoding: 'npz', buildSize: [32, 32, 16] });
    const set = plan.stages[0].sets[0] as Extract<TaskSet, { step: Vec3 }>;
    expect(set.step).toEqual([32, 32, 16]); // one build chunk's region: 2x2x2 shards of 2x2x2 chunks
    expect((await runPlan(plan, runTask, { concurrency: 2, progress: false })).dead).toEqual([]);
    const reads = memRequests(bucket).readsOf;
    const builds = [...reads].filter(([k]) => k.startsWith('build/'));
    expect(builds.length).toBe(3 * 2 * 2);
    expect(builds.every(([, n]) => n === 1)).toBe(true);
    await checkWithIndependentReader(layer, info, array(scaleBounds(info.scales[0])));
    const task = { kind: 'shard', layer_path: layer, mip: 0, source: { build, build_size: [32, 32, 16], encoding: 'npz' } };
    await expect(runTask({ ...task, chunk_position: '3-19_0-16_1-5' })).rejects.toThrow(
      /chunk_position 3-19_0-16_1-5 is not a region of whole shards of mip 0/,
    );
  });

  it("a sharded ingest's Shard tasks also write the shards their region completes at the mips above, reading each build chunk once", async () => {
    // Offset 0, so that every mip's shards nest: 2x2x2-chunk shards at every mip, factors 2x2x1.
    const g = { ...geometry, size: [64, 64, 32] as Vec3, voxelOffset: [0, 0, 0] as Vec3 };
    const cases: [string, LayerSpec, Vec3][] = [
      [
        'image, build chunks of one mip-0 shard',
        { ...g, type: 'image', dataType: 'uint8', encoding: 'raw', factor: [2, 2, 1], sharding: { targetBytes: 8 * 8 * 4 * 8 } },
        [16, 16, 8],
      ],
      [
        'segmentation, build chunks of two mip-1 shards',
        {
          ...g,
          type: 'segmentation',
          dataType: 'uint64',
          encoding: 'compressed_segmentation',
          blockSize: [4, 4, 2],
          factor: [2, 2, 1],
          sharding: { targetBytes: 8 * 8 * 4 * 8 * 8 },
        },
        [64, 32, 8],
      ],
      // Lossy: each mip is made from what the one below reads back (storedValues), on both paths.
      ['image, jpeg', { ...g, type: 'image', dataType: 'uint8', encoding: 'jpeg', factor: [2, 2, 1], sharding: { targetBytes: 8 * 8 * 4 * 8 } }, [16, 16, 8]],
    ];
    for (const [name, layerSpec, buildSize] of cases) {
      const info = createInfo(layerSpec);
      const bucket = `shard-levels-${name.replace(/\W+/g, '-')}-${Date.now()}`;
      const layer = `mem://${bucket}/layer`,
        build = `mem://${bucket}/build`;
      await Volume.create(layer, info);
      const array = (b: Box) =>
        layerSpec.type === 'image' ? Uint8Array.from(values(b, 'image')) : BigUint64Array.from(values(b, 'labels'), (v) => (BigInt(v) << 33n) + 5n);
      await writeBuild(build, scaleBounds(info.scales[0]), buildSize, array);
      const plan = await planIngest({ layerPath: layer, buildPath: build, encoding: 'npz', workers: 1 });
      const set = plan.stages[0].sets[0] as Extract<TaskSet, { step: Vec3 }>;
      expect(set.template.kind, name).toBe('shard');
      const mips = set.template.mips as number;
      expect(mips, name).toBeGreaterThan(1);
      // No later stage writes those mips again.
      expect(plan.stages.slice(1).map((st) => st.name)[0], name).toBe(
        `downsample mip${mips + 1 < info.scales.length ? 's' : ''} ${mips}${mips + 1 < info.scales.length ? `-${info.scales.length - 1}` : ''}`,
      );
      expect((await runPlan(plan, runTask, { concurrency: 2, progress: false })).dead).toEqual([]);
      const builds = [...memRequests(bucket).readsOf].filter(([k]) => k.startsWith('build/'));
      expect(builds.length, name).toBe([0, 1, 2].reduce((n, d) => n * Math.ceil(g.size[d] / buildSize[d]), 1));
      expect(
        builds.every(([, n]) => n === 1),
        name,
      ).toBe(true);
      if (layerSpec.encoding !== 'jpeg') await checkWithIndependentReader(layer, info, array(scaleBounds(info.scales[0])));
      // The plan as it was, one mip a Shard task and every mip above from the one below, writes the same bytes.
      const again = `mem://${bucket}/again`;
      await Volume.create(again, info);
      const source = { build, build_size: buildSize, encoding: 'npz' as const };
      const onePlan = {
        version: 2 as const,
        layer_path: again,
        stages: [{ name: 'ingest', sets: [shardSet(info, again, 0, source)] }, ...downsampleStages(info, again, 0)],
      };
      expect((await runPlan(onePlan, runTask, { concurrency: 2, progress: false })).dead).toEqual([]);
      const [a, b] = [openStore(layer), openStore(again)];
      const keys = await listAll(a);
      expect(await listAll(b)).toEqual(keys);
      for (const k of keys) expect(await b.get(k), `${name}: ${k}`).toEqual(await a.get(k));
    }
  });

  it('a Shard task writing several mips refuses a region that is not whole shards of each', async () => {
    const info = createInfo({
      ...geometry,
      size: [64, 64, 32],
      voxelOffset: [0, 0, 0],
      type: 'image',
      dataType: 'uint8',
      encoding: 'raw',
      factor: [2, 2, 1],
      sharding: { targetBytes: 8 * 8 * 4 * 8 },
    });
    const layer = `mem://shard-levels-refused-${Date.now()}`;
    await Volume.create(layer, info);
    const task = { kind: 'shard', layer_path: layer, mip: 0, source: { build: `${layer}-build`, build_size: [16, 16, 8], encoding: 'npz' }, mips: 2 };
    // One mip-0 shard: a quarter of a mip-1 shard.
    await expect(runTask({ ...task, chunk_position: '0-16_0-16_0-8' })).rejects.toThrow(
      /with mips 2: its region \[0,0,0\]-\[8,8,8\] at mip 1 is not whole compact shards/,
    );
    await expect(runTask({ ...task, chunk_position: '0-32_0-32_0-8', mips: 9 })).rejects.toThrow(/with mips 9: the layer has \d+ mips/);
    await expect(runTask({ ...task, shard: 0 })).rejects.toThrow(/mips above 1 needs chunk_position/);
  });

  it('refuses to write part of a shard', async () => {
    const info = createInfo({ ...geometry, type: 'image', dataType: 'uint8', encoding: 'raw', mips: 0, sharding: { targetBytes: 8 * 8 * 4 * 8 } });
    const volume = await Volume.create(`mem://partial-${Date.now()}`, info);
    const chunk = chunkBox(volume.scale(0), [0, 0, 0]);
    await expect(volume.writeChunk(0, chunk, new Uint8Array(voxelCount(chunk)))).rejects.toThrow(/shard 0 got 1 of its 8 chunks; a shard is written whole/);
  });
});
