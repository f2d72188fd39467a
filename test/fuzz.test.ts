// A mutation fuzzer over every decoder and side-file reader digest has: from a valid input, inputs
// with flipped bits, overwritten words (offsets, sizes, counts set to 0, to -1, past the end, to
// 2^31 and 2^53), truncations, splices and random tails. Each must decode or fail cleanly: a
// DigestError (InvalidInput or CorruptData), never a RangeError, a TypeError or a trap, and in
// bounded memory. Bounded in time: a fixed number of inputs per reader (seeded: failures reproduce).
import { crc32, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeMapping, encodeMapping } from '../affinities/agglomerate.js';
import { agglomerateBlock, wholeGraph } from '../affinities/agglomerate.js';
import { decodeNames, decodeRegionGraph, encodeNames, encodeRegionGraph } from '../affinities/region-graph.js';
import { decodeChunk, encodeChunk } from '../codecs/registry.js';
import { encodeNpy, encodeNpz, readNpzVolume } from '../sources/npz.js';
import { DigestError } from '../common/errors.js';
import { decodeRecord } from '../queue/progress/store.js';
import { box, Vec3 } from '../common/box.js';
import { DataType, TypedArray } from '../common/dtype.js';
import { allChunks, chunkFormat, createInfo, Encoding, parseInfo } from '../precomputed/info.js';
import { decodeMinishardIndex, ShardingSpec } from '../precomputed/sharding.js';
import { Volume } from '../precomputed/volume.js';
import { gunzip, gzip } from '../storage/gzip.js';
import { listAll } from '../storage/store.js';
import { parsePlan } from '../tasks/plan/format.js';
import { seededRandom } from './reference.js';

const INPUTS_PER_READER = 3000;

/** The `n`-th mutation of `seed`, deterministic in (seed bytes, n). */
function mutate(seed: Uint8Array, r: () => number): Uint8Array {
  const pick = (n: number) => Math.floor(r() * n);
  let out = seed.slice();
  const rounds = 1 + pick(3);
  for (let k = 0; k < rounds; k++) {
    switch (pick(7)) {
      case 0: {
        // flip bits
        for (let i = 0, n = 1 + pick(8); i < n && out.length > 0; i++) out[pick(out.length)] ^= 1 << pick(8);
        break;
      }
      case 1: {
        // a word set to an interesting value
        if (out.length < 4) break;
        const at = pick(out.length - 3) & ~(r() < 0.7 ? 3 : 0);
        const values = [0, 1, 0xffffffff, 0x7fffffff, 0x80000000, out.length, out.length + 1, 2 ** 31 - 1, pick(2 ** 32)];
        new DataView(out.buffer, out.byteOffset).setUint32(at, values[pick(values.length)], true);
        if (r() < 0.3 && at + 8 <= out.length) new DataView(out.buffer, out.byteOffset).setUint32(at + 4, pick(4) === 0 ? 0x200000 : 0xffffffff, true);
        break;
      }
      case 2:
        out = out.subarray(0, pick(out.length + 1)).slice();
        break; // truncate
      case 3: {
        // splice a piece of itself elsewhere
        if (out.length < 2) break;
        const a = pick(out.length),
          b = pick(out.length),
          n = pick(Math.min(64, out.length - Math.max(a, b)) + 1);
        out.copyWithin(a, b, b + n);
        break;
      }
      case 4: {
        // random tail
        const tail = Uint8Array.from({ length: pick(64) }, () => pick(256));
        const joined = new Uint8Array(out.length + tail.length);
        joined.set(out);
        joined.set(tail, out.length);
        out = joined;
        break;
      }
      case 5:
        for (let i = pick(out.length); i < out.length && r() < 0.95; i++) out[i] = pick(256);
        break; // a random run
      default:
        if (out.length > 0) out[pick(out.length)] = [0, 0xff, 0x7f, 0x80][pick(4)];
    }
  }
  return out;
}

/** Runs `read` over mutations of `seed`: clean errors only, and the heap stays within `maxGrowthMiB`. */
function fuzz(name: string, seed: Uint8Array, read: (bytes: Uint8Array) => unknown, seedNumber: number, maxGrowthMiB = 512): void {
  it(`${name}: ${INPUTS_PER_READER} mutated inputs decode or fail cleanly`, () => {
    expect(() => read(seed)).not.toThrow(); // the seed itself is valid
    const r = seededRandom(seedNumber);
    const before = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    let clean = 0,
      failed = 0;
    for (let n = 0; n < INPUTS_PER_READER; n++) {
      const input = mutate(seed, r);
      try {
        read(input);
        clean++;
      } catch (e) {
        if (!(e instanceof DigestError)) {
          throw new Error(
            `${name}, input ${n} (${input.length} bytes, hex ${Buffer.from(input.subarray(0, 48)).toString('hex')}...): ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`,
            { cause: e },
          );
        }
        failed++;
      }
      const grown = (process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - before) / 2 ** 20;
      if (grown > maxGrowthMiB) throw new Error(`${name}, input ${n}: memory grew by ${grown.toFixed(0)} MiB`);
    }
    expect(clean + failed).toBe(INPUTS_PER_READER);
    expect(failed).toBeGreaterThan(0); // the mutations reach the checks
  });
}

const shape: Vec3 = [16, 16, 8];
const voxels = shape[0] * shape[1] * shape[2];
function formatFor(encoding: Encoding, dataType: DataType, channels = 1) {
  const info = createInfo({
    type: dataType === 'uint32' || dataType === 'uint64' ? 'segmentation' : 'image',
    dataType,
    encoding,
    size: shape,
    resolution: [8, 8, 8],
    chunkSize: shape,
    mips: 1,
    numChannels: channels,
    ...(encoding === 'compressed_segmentation' ? { blockSize: [8, 8, 8] as Vec3 } : {}),
  });
  return chunkFormat(info, info.scales[0]);
}
function sample(dataType: DataType, n: number, seed: number): TypedArray {
  const r = seededRandom(seed);
  switch (dataType) {
    case 'uint8':
      return Uint8Array.from({ length: n }, (_, i) => (i % 50) + Math.floor(r() * 20));
    case 'uint16':
      return Uint16Array.from({ length: n }, () => Math.floor(r() * 65536));
    case 'uint32':
      return Uint32Array.from({ length: n }, (_, i) => 1 + ((i >> 3) % 9) + (r() < 0.05 ? 100 : 0));
    case 'uint64':
      return BigUint64Array.from({ length: n }, (_, i) => BigInt(1 + ((i >> 2) % 5)) << 33n);
    default:
      return Float32Array.from({ length: n }, () => r());
  }
}

describe('fuzz: chunk encodings', () => {
  const cases: [Encoding, DataType, number][] = [
    ['raw', 'uint8', 1],
    ['raw', 'uint64', 1],
    ['raw', 'float32', 3],
    ['compressed_segmentation', 'uint32', 1],
    ['compressed_segmentation', 'uint64', 1],
    ['jpeg', 'uint8', 1],
    ['jpeg', 'uint8', 3],
    ['png', 'uint8', 1],
    ['png', 'uint16', 2],
  ];
  cases.forEach(([encoding, dataType, channels], i) => {
    const f = formatFor(encoding, dataType, channels);
    const seed = encodeChunk(sample(dataType, voxels * channels, i), shape, f);
    fuzz(`${encoding} ${dataType} x${channels}`, seed, (b) => decodeChunk(b, shape, f), 100 + i);
  });
  // A PNG with an ancillary chunk before the image data (text), as other tools write.
  const png = encodeChunk(sample('uint8', voxels, 9), shape, formatFor('png', 'uint8'));
  const body = Buffer.from('tEXtComment\0made elsewhere', 'latin1');
  const text = Buffer.alloc(body.length + 8);
  text.writeUInt32BE(body.length - 4, 0);
  body.copy(text, 4);
  text.writeUInt32BE(crc32(body) >>> 0, 4 + body.length);
  const withText = Buffer.concat([png.subarray(0, 33), text, png.subarray(33)]);
  fuzz('png with an ancillary chunk', withText, (b) => decodeChunk(b, shape, formatFor('png', 'uint8')), 120);
});

describe('fuzz: build chunks, gzip and layer files', () => {
  const npz = encodeNpz({ data: encodeNpy(sample('uint16', voxels, 3), shape), other: encodeNpy(sample('uint8', 8, 4), [2, 2, 2]) });
  fuzz('npz (stored)', npz, (b) => readNpzVolume(b, { what: 'build.npz', maxBytes: 2 * voxels }), 200);
  fuzz('npy', encodeNpy(sample('float32', voxels, 5), shape), (b) => readNpzVolume(b, { what: 'build.npy', maxBytes: 4 * voxels }), 201);
  const zipped = gzip(sample('uint8', 100_000, 6) as Uint8Array, { level: 6, strategy: 'default' });
  fuzz('gzip', zipped, (b) => gunzip(b, 'chunk.gz', 100_000), 202);
  fuzz('gzip (Huffman-only)', gzip(sample('uint8', 100_000, 7) as Uint8Array, { level: 6, strategy: 'huffman' }), (b) => gunzip(b, 'chunk.gz', 100_000), 203);
  const info = new TextEncoder().encode(
    JSON.stringify(
      createInfo({ type: 'image', dataType: 'uint8', encoding: 'raw', size: [100, 100, 100], resolution: [4, 4, 40], chunkSize: [64, 64, 64], mips: 3 }),
    ),
  );
  fuzz('info', info, (b) => parseInfo(new TextDecoder().decode(b)), 204);
});

describe('fuzz: sharded scales', () => {
  const spec: ShardingSpec = {
    '@type': 'neuroglancer_uint64_sharded_v1',
    preshift_bits: 0,
    hash: 'identity',
    minishard_bits: 0,
    shard_bits: 0,
    minishard_index_encoding: 'raw',
    data_encoding: 'raw',
  };
  const index = new BigUint64Array([1n, 1n, 1n, 0n, 10n, 0n, 8n, 8n, 8n]);
  fuzz('minishard index (raw)', new Uint8Array(index.buffer), (b) => decodeMinishardIndex(b, spec, 'shard', 1 << 20), 300);
  fuzz(
    'minishard index (gzip)',
    gzipSync(new Uint8Array(index.buffer)),
    (b) => decodeMinishardIndex(b, { ...spec, minishard_index_encoding: 'gzip' }, 'shard', 1 << 20),
    301,
  );

  it('a sharded layer whose shard file is mutated reads or fails cleanly, 300 times', async () => {
    const layer = `mem://fuzz-shard-${Date.now()}`;
    const info = createInfo({
      type: 'segmentation',
      dataType: 'uint64',
      encoding: 'compressed_segmentation',
      size: [64, 64, 64],
      resolution: [8, 8, 8],
      chunkSize: [32, 32, 32],
      mips: 1,
      sharding: { targetBytes: 1 << 30 },
    });
    const volume = await Volume.create(layer, info);
    const all = box([0, 0, 0], [64, 64, 64]);
    await volume.writeWithin(0, all, sample('uint64', 64 ** 3, 8));
    const store = volume.store;
    const [key] = (await listAll(store)).filter((k) => k.endsWith('.shard'));
    const seed = (await store.getStored(key))!.body;
    const r = seededRandom(302);
    for (let n = 0; n < 300; n++) {
      await store.put(key, mutate(seed, r));
      const fresh = await Volume.open(layer);
      await fresh.read(0, all).catch((e) => {
        if (!(e instanceof DigestError)) throw e;
      });
    }
  });
});

describe('fuzz: side files', () => {
  const mapping = encodeMapping(
    new Map([
      [5n, 2n],
      [9n, 2n],
      [2n ** 63n, 7n],
    ]),
  );
  fuzz('agglomeration mapping', mapping, (b) => decodeMapping(b, 'mapping'), 400);
  const graph = wholeGraph([
    { a: 1n, b: 2n, sum: 1.5, count: 2 },
    { a: 2n, b: 2n ** 64n - 1n, sum: 0.25, count: 1 },
  ]);
  fuzz('region graph', encodeRegionGraph(graph), (b) => decodeRegionGraph(b, 'x.graph'), 401);
  const block = agglomerateBlock([{ graph, outer: 0, key: 3n }], 0.6);
  fuzz('name table', encodeNames(block.names), (b) => decodeNames(b, 'x.names'), 402);
  const plan = new TextEncoder().encode(
    JSON.stringify({
      version: 2,
      layer_path: 'mem://x',
      stages: [
        {
          name: 's',
          sets: [
            {
              template: { kind: 'downsample', layer_path: 'mem://x' },
              field: 'chunk_path',
              format: '8_8_8/{box}',
              origin: [0, 0, 0],
              step: [64, 64, 64],
              shape: [2, 2, 2],
              clip: { start: [0, 0, 0], stop: [100, 100, 100] },
            },
          ],
        },
      ],
    }),
  );
  fuzz('plan', plan, (b) => parsePlan(b, 'plan.json'), 402);
  const record = new TextEncoder().encode(
    JSON.stringify({
      recorder: 'w',
      stage: 0,
      tasks: 100,
      first: 1,
      updated: 2,
      done: 3,
      bitmap: gzipSync(Buffer.from([7, 0, 0])).toString('base64'),
      dead: [[5, 'x']],
    }),
  );
  fuzz('progress record', record, (b) => decodeRecord(b, 'records/0/w', 100), 403);
  const runs = new TextEncoder().encode(
    JSON.stringify({
      recorder: 'w',
      stage: 0,
      tasks: 100,
      first: 1,
      updated: 2,
      done: 8,
      runs: Buffer.from([0, 3, 10, 4, 0x81, 0x00, 1]).toString('base64'),
      dead: [],
    }),
  );
  fuzz('progress record of runs', runs, (b) => decodeRecord(b, 'records/0/w', 100), 404);
});
