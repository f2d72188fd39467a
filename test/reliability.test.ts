// The findings of the third attack on digest (issue 21), one describe per finding: each test
// reproduces what went wrong and checks what happens now.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { encodeNpy, encodeNpz } from '../sources/npz.js';
import { averageDownsample, modeDownsample } from '../kernels/downsample.js';
import { box, Vec3 } from '../common/box.js';
import { TypedArray } from '../common/dtype.js';
import { Volume } from '../precomputed/volume.js';
import { referencePyramid, seededRandom } from './reference.js';
import { crc32, deflateSync, gzipSync } from 'node:zlib';
import { CorruptData, InvalidInput } from '../common/errors.js';
import { decodeMapping } from '../affinities/agglomerate.js';
import { decodeCompressedSegmentation, encodeCompressedSegmentation } from '../codecs/compressed-segmentation.js';
import { decodePng, encodePng } from '../codecs/png.js';
import { allChunks, createInfo, parseInfo } from '../precomputed/info.js';
import { decodeMinishardIndex } from '../precomputed/sharding.js';
import { FileStore } from '../storage/file-store.js';
import { listPlan } from '../tasks/plan/format.js';
import { findLayers, serveView } from '../server/view.js';
import { serveDirectory } from '../server/files.js';
import { get } from 'node:http';
import { AddressInfo } from 'node:net';
import { mappingDir, mappingInfo } from '../tasks/agglomerate.js';
import { ShardedScale } from '../precomputed/sharded-scale.js';
import { chooseSharding } from '../precomputed/sharding.js';
import { runTask } from '../tasks/registry.js';
import { ProgressStore } from '../queue/progress/store.js';
import { runDigest, tmpDir } from './cli.js';

const dist = join(__dirname, '..', 'dist');
const tmp = tmpDir;
const digest = runDigest;

/** Writes `data` ([x, y, z] x-fastest over `size`) as npz build chunks of `step` under `dir`. */
async function writeBuild(dir: string, data: TypedArray, size: Vec3, step: Vec3): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (let z = 0; z < size[2]; z += step[2])
    for (let y = 0; y < size[1]; y += step[1])
      for (let x = 0; x < size[0]; x += step[0]) {
        const s: Vec3 = [Math.min(step[0], size[0] - x), Math.min(step[1], size[1] - y), Math.min(step[2], size[2] - z)];
        const part = new (data.constructor as any)(s[0] * s[1] * s[2]) as TypedArray;
        let o = 0;
        for (let k = 0; k < s[2]; k++)
          for (let j = 0; j < s[1]; j++) for (let i = 0; i < s[0]; i++) (part as any)[o++] = (data as any)[x + i + size[0] * (y + j + size[1] * (z + k))];
        await writeFile(join(dir, `${x}-${x + s[0]}_${y}-${y + s[1]}_${z}-${z + s[2]}.npz`), encodeNpz({ data: encodeNpy(part, s) }));
      }
}

/** create-layer, plan ingest, run --local: the CLI as a user runs it; throws with its output on failure. */
async function ingest(layer: string, build: string, flags: string[]): Promise<void> {
  for (const args of [
    ['create-layer', layer, ...flags],
    ['plan', 'ingest', '--layer', layer, '--build', build, '--out', `${layer}.plan.json`],
    ['run', `${layer}.plan.json`, '--local', '--threads', '2', '--backend', 'cpu'],
  ]) {
    const r = await digest(args);
    if (r.code !== 0) throw new Error(`digest ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  }
}

describe('finding 0: 2x2x1 downsampling on a fresh thread', () => {
  // A fresh thread's WebAssembly memory is as small as the module starts (one page); the kernel's
  // input for 2x2x1 is larger than its output and must still fit.
  const kinds = ['uint8', 'uint16', 'float32', 'uint32', 'uint64'] as const;
  for (const kind of kinds) {
    it(`equals the JS loops for ${kind}, [256, 256, 2] by 2x2x1, as the first call of a thread`, async () => {
      const shape: Vec3 = [256, 256, 2];
      const n = shape[0] * shape[1] * shape[2];
      const r = seededRandom(kinds.indexOf(kind) + 5);
      const data: TypedArray =
        kind === 'uint8'
          ? Uint8Array.from({ length: n }, () => Math.floor(r() * 256))
          : kind === 'uint16'
            ? Uint16Array.from({ length: n }, () => Math.floor(r() * 65536))
            : kind === 'float32'
              ? Float32Array.from({ length: n }, () => r() * 100)
              : kind === 'uint32'
                ? Uint32Array.from({ length: n }, () => Math.floor(r() * 3))
                : BigUint64Array.from({ length: n }, () => BigInt(Math.floor(r() * 3)) << 40n);
      const input = { data, shape, channels: 1, factor: [2, 2, 1] as Vec3, phase: [0, 0, 0] as Vec3 };
      const image = kind === 'uint8' || kind === 'uint16' || kind === 'float32';
      const expected = image ? averageDownsample(input, { jsOnly: true }) : modeDownsample(input, { jsOnly: true });
      const module = join(dist, 'kernels', 'downsample.js');
      const code = `const { workerData, parentPort } = require('node:worker_threads');
        import(${JSON.stringify(module)}).then((k) => {
          const input = { ...workerData, factor: [2, 2, 1], phase: [0, 0, 0] };
          parentPort.postMessage(workerData.image ? k.averageDownsample(input) : k.modeDownsample(input));
        }).catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`;
      const got = await new Promise<any>((resolve, reject) => {
        const worker = new Worker(code, { eval: true, workerData: { data, shape, channels: 1, image } });
        worker.once('message', (m) => {
          void worker.terminate();
          resolve(m);
        });
        worker.once('error', reject);
      });
      expect(got.error).toBeUndefined();
      expect(got).toEqual(expected);
    });
  }

  const size: Vec3 = [256, 256, 8];
  for (const [encoding, type, dtype] of [
    ['jpeg', 'image', 'uint8'],
    ['raw', 'image', 'uint16'],
    ['compressed_segmentation', 'segmentation', 'uint64'],
    ['raw', 'segmentation', 'uint32'],
  ] as const) {
    it(`ingests a ${dtype} ${encoding} layer with --factor 2,2,1 and reads back the pyramid`, async () => {
      const dir = await tmp('aniso');
      const n = size[0] * size[1] * size[2];
      const r = seededRandom(17);
      // Smooth enough for JPEG to keep close; labels in runs so that the mode has work.
      const data: TypedArray =
        dtype === 'uint8'
          ? Uint8Array.from({ length: n }, (_, i) => 100 + ((i % 256) >> 3) + Math.floor(r() * 4))
          : dtype === 'uint16'
            ? Uint16Array.from({ length: n }, () => Math.floor(r() * 65536))
            : dtype === 'uint64'
              ? BigUint64Array.from({ length: n }, (_, i) => BigInt(1 + ((i >> 4) % 7)) * 0x1_0000_0001n)
              : Uint32Array.from({ length: n }, (_, i) => 1 + ((i >> 3) % 5));
      await writeBuild(join(dir, 'build'), data, size, [256, 256, 8]); // one task: its region is the kernel's input
      const layer = join(dir, 'layer');
      await ingest(layer, join(dir, 'build'), [
        '--type',
        type,
        '--dtype',
        dtype,
        '--size',
        size.join(','),
        '--resolution',
        '4,4,40',
        '--encoding',
        encoding,
        '--factor',
        '2,2,1',
        '--mips',
        '3',
        '--chunk',
        '64,64,8',
      ]);
      const volume = await Volume.open(layer);
      const mip0 = await volume.read(0, box([0, 0, 0], size));
      if (encoding === 'jpeg') {
        let worst = 0;
        for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs((mip0 as Uint8Array)[i] - (data as Uint8Array)[i]));
        expect(worst).toBeLessThan(16);
        return;
      }
      const levels = referencePyramid(volume.info, data);
      for (let m = 0; m < volume.info.scales.length; m++) {
        const s = volume.info.scales[m].size;
        expect(Array.from((await volume.read(m, box([0, 0, 0], s))) as ArrayLike<any>)).toEqual(levels[m]);
      }
    });
  }
});

describe('finding 1: digest reads back what it writes, for chunks that coding cannot shrink', () => {
  for (const sharded of [false, true]) {
    it(`uniformly random uint8 build chunks, default layer${sharded ? ', sharded' : ''}: ingest + downsample read back exactly`, async () => {
      const dir = await tmp('entropy');
      const size: Vec3 = [128, 128, 128];
      const data = new Uint8Array(randomBytes(size[0] * size[1] * size[2]));
      await writeBuild(join(dir, 'build'), data, size, [64, 64, 64]);
      const layer = join(dir, 'layer');
      await ingest(layer, join(dir, 'build'), [
        '--type',
        'image',
        '--dtype',
        'uint8',
        '--size',
        size.join(','),
        '--resolution',
        '8,8,8',
        '--mips',
        '3',
        ...(sharded ? ['--sharded'] : []),
      ]);
      const volume = await Volume.open(layer);
      const levels = referencePyramid(volume.info, data);
      for (let m = 0; m < volume.info.scales.length; m++) {
        const s = volume.info.scales[m].size;
        expect(Buffer.from((await volume.read(m, box([0, 0, 0], s))).buffer).equals(Buffer.from(Uint8Array.from(levels[m] as number[])))).toBe(true);
      }
    });
  }
});

describe('finding 0b, 0c and 4: the agglomeration mapping', () => {
  it('refuses torn and impossible mappings as CorruptData', () => {
    const pairs = (...p: bigint[]) => new Uint8Array(BigUint64Array.from(p).buffer);
    expect(() => decodeMapping(new Uint8Array(3), 'm')).toThrow(CorruptData);
    expect(() => decodeMapping(pairs(5n, 0n), 'm')).toThrow(/maps label 5 to 0/);
    expect(() => decodeMapping(pairs(5n, 9n), 'm')).toThrow(CorruptData);
    expect(() => decodeMapping(pairs(9n, 5n, 7n, 5n), 'm')).toThrow(/increasing/);
    expect([...decodeMapping(pairs(7n, 5n, 9n, 5n), 'm')]).toEqual([
      [7n, 5n],
      [9n, 5n],
    ]);
  });

  it('a long-lived thread remaps with the mapping as it is now, not as it was', async () => {
    const dir = await tmp('mapping');
    const ws = join(dir, 'ws'),
      out = join(dir, 'out');
    const info = createInfo({
      type: 'segmentation',
      dataType: 'uint32',
      encoding: 'raw',
      size: [8, 8, 8],
      resolution: [8, 8, 8],
      chunkSize: [8, 8, 8],
      mips: 1,
    });
    const labels = Uint32Array.from({ length: 512 }, (_, i) => 1 + (i % 3));
    const source = await Volume.create(ws, info);
    await source.writeChunk(0, box([0, 0, 0], [8, 8, 8]), labels);
    await Volume.create(out, info);
    const remap = JSON.stringify({ kind: 'remap', chunk_position: '0-8_0-8_0-8', layer_path_segmentation: ws, layer_path: out, threshold: 0.5 });
    const sharding = chooseSharding([1, 1, 1], 1, { targetBytes: 512 });
    await source.store.put(`${mappingDir(0.5)}/info`, new TextEncoder().encode(JSON.stringify(mappingInfo([1, 1, 1], sharding))));
    const mapping = new ShardedScale(source.store, mappingDir(0.5), sharding, [1, 1, 1]);
    const write = (p: bigint[]) => mapping.writeShard(0, [{ id: mapping.idOf([0, 0, 0]), bytes: new Uint8Array(BigUint64Array.from(p).buffer) }]);
    await write([2n, 1n]);
    await runTask(remap);
    expect(Array.from((await (await Volume.open(out)).read(0, box([0, 0, 0], [8, 8, 8]))) as Uint32Array)).toEqual(
      Array.from(labels, (l) => (l === 2 ? 1 : l)),
    );
    await write([3n, 1n]); // the same URL, another mapping (a later plan)
    await runTask(remap);
    expect(Array.from((await (await Volume.open(out)).read(0, box([0, 0, 0], [8, 8, 8]))) as Uint32Array)).toEqual(
      Array.from(labels, (l) => (l === 3 ? 1 : l)),
    );
  });
});

describe('finding 2: side files that inflate without bound', () => {
  // 2 MiB of gzip that inflates to 2 GiB: refused once the reader's bound is passed, in bounded memory.
  const bomb = () => {
    const zeros = new Uint8Array(64 << 20);
    const part = gzipSync(zeros, { level: 9 });
    // Concatenated gzip members inflate as one stream: 32 x 64 MiB.
    return Buffer.concat(Array.from({ length: 32 }, () => part));
  };
  it('refuses a graph, chunk graphs, progress records and plans that inflate past their bound, in bounded memory', async () => {
    const dir = await tmp('side-bombs');
    const layer = join(dir, 'seg');
    await Volume.create(
      layer,
      createInfo({ type: 'segmentation', dataType: 'uint32', encoding: 'raw', size: [8, 8, 8], resolution: [8, 8, 8], chunkSize: [8, 8, 8], mips: 1 }),
    );
    const gz = bomb();
    await mkdir(join(layer, 'mean_graph', 'chunks'), { recursive: true });
    await writeFile(join(layer, 'mean_graph', 'chunks', '0-8_0-8_0-8.graph.gz'), gz);
    await mkdir(join(layer, 'agglomeration', '0.5', 'blocks-1', '0'), { recursive: true });
    await writeFile(join(layer, 'agglomeration', '0.5', 'blocks-1', '0', '0_0_0.names.gz'), gz);
    const info = mappingInfo([1, 1, 1], chooseSharding([1, 1, 1], 1, { targetBytes: 512 }));
    await writeFile(join(layer, 'agglomeration', '0.5', 'mapping', 'info'), JSON.stringify(info)).catch(async () => {
      await mkdir(join(layer, 'agglomeration', '0.5', 'mapping'), { recursive: true });
      await writeFile(join(layer, 'agglomeration', '0.5', 'mapping', 'info'), JSON.stringify(info));
    });
    await mkdir(join(dir, 'progress', 'records', '0'), { recursive: true });
    await writeFile(join(dir, 'progress', 'plan.json.gz'), gz);
    const before = process.memoryUsage().rss;
    for (const task of [
      { kind: 'agglomerate_block', layer_path_segmentation: layer, threshold: 0.5, block: 1, level: 0, block_position: '0-8_0-8_0-8' },
      { kind: 'agglomerate_mapping', layer_path_segmentation: layer, threshold: 0.5, block: 1, shard: 0 },
    ]) {
      await expect(runTask(JSON.stringify(task))).rejects.toThrow(CorruptData);
    }
    await expect(new ProgressStore(join(dir, 'progress')).status()).rejects.toThrow(/inflates to more than/);
    expect(process.memoryUsage().rss - before).toBeLessThan(1.5 * 2 ** 30);
    const status = await digest(['status', '--progress', join(dir, 'progress')]);
    expect(status.code).toBe(1);
    expect(status.stderr).toMatch(/plan\.json\.gz: inflates to more than/);
  });
});

describe('finding 3: PNG bombs in ancillary chunks', () => {
  it('a valid PNG with a 1 MB iCCP profile that inflates to 1 GiB decodes without inflating it', () => {
    const png = encodePng(new Uint8Array(16 * 16).fill(3), [16, 16, 1], 1);
    const profile = deflateSync(new Uint8Array(1 << 30), { level: 9 });
    const body = Buffer.concat([Buffer.from('icc\0\0'), profile]);
    const chunk = Buffer.alloc(12 + body.length);
    chunk.writeUInt32BE(body.length, 0);
    chunk.write('iCCP', 4, 'latin1');
    body.copy(chunk, 8);
    chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + body.length)) >>> 0, 8 + body.length);
    const bombed = Buffer.concat([png.subarray(0, 33), chunk, png.subarray(33)]);
    const before = process.memoryUsage().rss;
    expect(Array.from(decodePng(bombed, [16, 16, 1], 1, 'uint8'))).toEqual(new Array(256).fill(3));
    expect(process.memoryUsage().rss - before).toBeLessThan(256 << 20);
  });
});

describe('finding 4: a compressed_segmentation chunk with a channel offset past the end', () => {
  it('fails as CorruptData naming the fault, on the WebAssembly path too', () => {
    const good = encodeCompressedSegmentation(
      Uint32Array.from({ length: 512 }, (_, i) => i % 5),
      [8, 8, 8],
      1,
      [8, 8, 8],
    );
    for (const offset of [good.length / 4, 0x7fff_ffff, 0xffff_ffff]) {
      const bad = good.slice();
      new DataView(bad.buffer).setUint32(0, offset, true);
      expect(() => decodeCompressedSegmentation(bad, [8, 8, 8], 1, [8, 8, 8], 'uint32')).toThrow(CorruptData);
      expect(() => decodeCompressedSegmentation(bad, [8, 8, 8], 1, [8, 8, 8], 'uint32')).toThrow(/block headers at word/);
    }
  });
});

describe('finding 5 and 6: FIFOs, links and missing layers', () => {
  it('a FIFO where a chunk belongs is refused at once, naming it; run --local exits', async () => {
    const dir = await tmp('fifo');
    const layer = join(dir, 'layer');
    const volume = await Volume.create(
      layer,
      createInfo({ type: 'image', dataType: 'uint8', encoding: 'raw', size: [16, 16, 16], resolution: [8, 8, 8], chunkSize: [8, 8, 8], mips: 2 }),
    );
    await volume.writeChunks(0, allChunks(volume.scale(0)), new Uint8Array(16 ** 3).fill(1), box([0, 0, 0], [16, 16, 16]));
    const chunk = join(layer, '8_8_8', '0-8_0-8_0-8');
    await rm(`${chunk}.gz`, { force: true });
    await rm(chunk, { force: true });
    await promisify(execFile)('mkfifo', [chunk]);
    await expect(volume.read(0, box([0, 0, 0], [8, 8, 8]))).rejects.toThrow(`${chunk} is not a regular file`);
    await writeFile(
      join(dir, 'plan.json'),
      JSON.stringify(listPlan(layer, [{ name: 'd', tasks: [{ kind: 'downsample', chunk_path: '16_16_16/0-8_0-8_0-8', layer_path: layer }] }])),
    );
    const r = await digest(['run', join(dir, 'plan.json'), '--local', '--threads', '1', '--task-timeout', '5', '--backend', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${chunk} is not a regular file`);
    expect(r.stderr).toContain('FAILED after 1 attempt(s)'); // invalid input: not retried
    // upload refuses the FIFO too (it used to hang).
    const up = await digest(['upload', layer, join(dir, 'copy')]);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain(`${chunk} is not a regular file`);
  });

  it('upload refuses a link out of the layer, copies a linked directory inside it, and fails on a missing layer', async () => {
    const dir = await tmp('links');
    const layer = join(dir, 'layer');
    await mkdir(join(layer, 'real'), { recursive: true });
    await writeFile(join(layer, 'info'), '{}');
    await writeFile(join(layer, 'real', 'a'), 'A');
    await symlink(join(layer, 'real'), join(layer, 'linked'));
    const up = await digest(['upload', layer, join(dir, 'copy')]);
    expect(up.stderr).toBe('copied 3 objects (0 gzip-encoded), 0.0 MiB\n');
    expect(await readFile(join(dir, 'copy', 'linked', 'a'), 'utf8')).toBe('A');
    await writeFile(join(dir, 'secret'), 'S');
    await symlink(join(dir, 'secret'), join(layer, 'leak'));
    const refused = await digest(['upload', layer, join(dir, 'copy2')]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${join(layer, 'leak')} is a link to ${join(dir, 'secret')}, outside ${layer}: refused`);
    const missing = await digest(['upload', join(dir, 'nothing'), join(dir, 'copy3')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('holds no layer (no info file)');
  });

  it('view takes a layer folder that is a link', async () => {
    const dir = await tmp('view-link');
    await Volume.create(
      join(dir, 'elsewhere', 'em'),
      createInfo({ type: 'image', dataType: 'uint8', encoding: 'raw', size: [8, 8, 8], resolution: [8, 8, 8], chunkSize: [8, 8, 8], mips: 1 }),
    );
    await mkdir(join(dir, 'layers'));
    await symlink(join(dir, 'elsewhere', 'em'), join(dir, 'layers', 'em'));
    expect(await findLayers(join(dir, 'layers'))).toEqual([join(dir, 'layers', 'em')]);
  });
});

describe('finding 7: shard indices past 2^53 and duplicate chunk ids', () => {
  const spec = {
    '@type': 'neuroglancer_uint64_sharded_v1',
    preshift_bits: 0,
    hash: 'identity',
    minishard_bits: 0,
    shard_bits: 0,
    minishard_index_encoding: 'raw',
    data_encoding: 'raw',
  } as const;
  const index = (rows: bigint[][]) => {
    // [id delta, offset delta, size] per entry, written as [3, n]
    const out = new BigUint64Array(3 * rows.length);
    rows.forEach((r, i) => {
      out[i] = r[0];
      out[rows.length + i] = r[1];
      out[2 * rows.length + i] = r[2];
    });
    return new Uint8Array(out.buffer);
  };
  it('refuses offsets that doubles would round, and a chunk listed twice, as CorruptData', () => {
    expect(() => decodeMinishardIndex(index([[1n, 2n ** 60n + 32n, 8n]]), spec, 'shard', 1 << 20)).toThrow(/points past 2\^53/);
    expect(() =>
      decodeMinishardIndex(
        index([
          [1n, 0n, 8n],
          [0n, 0n, 8n],
        ]),
        spec,
        'shard',
        1 << 20,
      ),
    ).toThrow(/lists chunk 1 twice/);
    expect([
      ...decodeMinishardIndex(
        index([
          [1n, 0n, 8n],
          [2n, 0n, 8n],
        ]),
        spec,
        'shard',
        1 << 20,
      ),
    ]).toEqual([
      [1n, { start: 16, end: 24 }],
      [3n, { start: 24, end: 32 }],
    ]);
  });
});

describe('finding 8: bad plans, flags, slices and scale keys are refused when given', () => {
  it('plans too large to track, and wrong segment ids, are refused before anything runs', async () => {
    const dir = await tmp('plans');
    const template = { kind: 'downsample', layer_path: 'x' };
    const plans = [
      { sets: [{ template, field: 'chunk_path', count: 2 ** 53 - 1 }] },
      {
        sets: [
          {
            template,
            field: 'chunk_path',
            format: 's/{box}',
            origin: [0, 0, 0],
            step: [1, 1, 1],
            shape: [2 ** 20, 2 ** 20, 2 ** 20],
            clip: { start: [0, 0, 0], stop: [2 ** 20, 2 ** 20, 2 ** 20] },
          },
        ],
      },
    ];
    for (const stage of plans) {
      const file = join(dir, 'plan.json');
      await writeFile(file, JSON.stringify({ version: 2, layer_path: 'x', stages: [{ name: 's', ...stage }] }));
      for (const args of [
        ['run', file, '--local'],
        ['publish', file, '--topic', 't', '--subscription', 's', '--progress', join(dir, 'p')],
      ]) {
        const r = await digest(args);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/stages\[0\] has \d+ tasks, more than the 1073741824 a stage may hold/);
      }
    }
    const layer = join(dir, 'seg');
    await Volume.create(
      layer,
      createInfo({ type: 'segmentation', dataType: 'uint32', encoding: 'raw', size: [8, 8, 8], resolution: [8, 8, 8], chunkSize: [8, 8, 8], mips: 1 }),
    );
    const mesh = await digest(['plan', 'mesh', '--layer', layer, '--segments', '0,abc,-5', '--out', join(dir, 'mesh.json')]);
    expect(mesh.code).toBe(2);
    expect(mesh.stderr).toContain('must be non-zero uint64 segment ids, comma-separated; "0" is not');
  });

  it("two files for one PNG slice, and scale keys of dots or inside the layer's own folders", async () => {
    const dir = await tmp('slices');
    await mkdir(join(dir, 'build', '0-8_0-8_10-11'), { recursive: true });
    const png = encodePng(new Uint8Array(64), [8, 8, 1], 1);
    await writeFile(join(dir, 'build', '0-8_0-8_10-11', '10.png'), png);
    await writeFile(join(dir, 'build', '0-8_0-8_10-11', '10.png.gz'), gzipSync(png));
    const layer = join(dir, 'layer');
    await Volume.create(
      layer,
      createInfo({ type: 'image', dataType: 'uint8', encoding: 'raw', size: [8, 8, 20], resolution: [8, 8, 8], chunkSize: [8, 8, 1], mips: 1 }),
    );
    await expect(
      runTask(JSON.stringify({ kind: 'ingest', chunk_path: join(dir, 'build', '0-8_0-8_10-11'), chunk_encoding: 'png', layer_path: layer })),
    ).rejects.toThrow(/10\.png and its \.gz are both there/);
    const info = createInfo({ type: 'image', dataType: 'uint8', encoding: 'raw', size: [8, 8, 8], resolution: [8, 8, 8], chunkSize: [8, 8, 8], mips: 1 });
    for (const key of ['...', 'mean_graph/chunks', 'agglomeration', 'a/../b']) {
      expect(() => parseInfo(JSON.stringify({ ...info, scales: [{ ...info.scales[0], key }] })), key).toThrow(InvalidInput);
    }
    expect(() => parseInfo(JSON.stringify({ ...info, mesh: 'm', scales: [{ ...info.scales[0], key: 'm/8' }] }))).toThrow(/in the mesh directory/);
    expect(parseInfo(JSON.stringify({ ...info, scales: [{ ...info.scales[0], key: '8_8_8.v2' }] })).scales[0].key).toBe('8_8_8.v2');
  });
});

describe('finding 9: temp files of a killed writer on this machine', () => {
  it("are swept by the next write into their directory at once, whatever their age; another machine's are left for an hour", async () => {
    const dir = await tmp('temps');
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    const deadPid = child.pid!;
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const host = hostname().replace(/[^A-Za-z0-9]/g, '_');
    await mkdir(join(dir, 's'));
    const mine = `chunk.gz.tmp-${host}-${deadPid}-0badc0de`,
      theirs = `chunk.gz.tmp-otherhost-${deadPid}-0badc0df`;
    for (const f of [mine, theirs]) await writeFile(join(dir, 's', f), '');
    await new FileStore(dir).put('s/new', new Uint8Array(3));
    expect((await readdir(join(dir, 's'))).sort()).toEqual(['new', theirs].sort());
  });
});

describe('finding 12b: JPEG layers are the same bytes whichever path made their mips', () => {
  it('Ingest of the whole pyramid equals Ingest of mip 0 then Downsample mip by mip, and a multi-mip Downsample', async () => {
    const dir = await tmp('jpeg-paths');
    const size: Vec3 = [256, 256, 64];
    const r = seededRandom(23);
    const data = Uint8Array.from({ length: size[0] * size[1] * size[2] }, (_, i) => 60 + ((i * 7) % 97) + Math.floor(r() * 30));
    const flags = [
      '--type',
      'image',
      '--dtype',
      'uint8',
      '--size',
      size.join(','),
      '--resolution',
      '4,4,40',
      '--encoding',
      'jpeg',
      '--factor',
      '2,2,1',
      '--mips',
      '5',
      '--chunk',
      '64,64,16',
    ];
    await writeBuild(join(dir, 'whole'), data, size, size);
    await writeBuild(join(dir, 'pieces'), data, size, [64, 64, 16]);
    await ingest(join(dir, 'a'), join(dir, 'whole'), flags); // one task: every mip from memory
    await ingest(join(dir, 'b'), join(dir, 'pieces'), flags); // mip 0 only: the chunks are the build's
    await ingest(join(dir, 'c'), join(dir, 'pieces'), flags);
    for (const [layer, memory] of [
      ['b', '101'], // (the process itself is planned at 100 MiB: 1 MiB of voxels, a mip a task)
      ['c', '4096'],
    ]) {
      const plan = join(dir, `${layer}.down.json`);
      for (const args of [
        ['plan', 'downsample', '--layer', join(dir, layer), '--from-mip', '1', '--memory', memory, '--out', plan],
        ['run', plan, '--local', '--threads', '2', '--backend', 'cpu'],
      ]) {
        const ran = await digest(args);
        if (ran.code !== 0) throw new Error(ran.stderr);
      }
    }
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((l) => Volume.open(join(dir, l))));
    for (let m = 0; m < a.info.scales.length; m++) {
      const all = box([0, 0, 0], a.info.scales[m].size);
      const [va, vb, vc] = await Promise.all([a, b, c].map((v) => v.read(m, all)));
      expect(Buffer.from(vb.buffer).equals(Buffer.from(va.buffer)), `mip ${m}, mip by mip`).toBe(true);
      expect(Buffer.from(vc.buffer).equals(Buffer.from(va.buffer)), `mip ${m}, multi-mip`).toBe(true);
    }
  });
});

describe('a long-lived reader fed corrupt gzip', () => {
  // node:zlib frees a failed inflate's state on the next tick, not at once: a reader that awaits
  // its storage between chunks (every reader here does) keeps it bounded.
  it('reads 5,000 corrupt chunks through the file store in flat memory', async () => {
    const dir = await tmp('corrupt-gzip');
    const bad = Buffer.from(gzipSync(Buffer.alloc(20_000, 7)));
    bad[bad.length - 20] ^= 0xff;
    bad[30] ^= 0x55;
    await writeFile(join(dir, 'chunk.gz'), bad);
    const store = new FileStore(dir);
    const external = () => process.memoryUsage().external + process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 500; i++) await store.get('chunk', { maxBytes: 200_000 }).catch(() => {});
    const before = external();
    for (let i = 0; i < 5_000; i++) await expect(store.get('chunk', { maxBytes: 200_000 })).rejects.toThrow(CorruptData);
    await new Promise((r) => setTimeout(r, 50));
    expect((external() - before) / 2 ** 20).toBeLessThan(64);
  });
});

describe('security defaults: serve and view, and workers confined to prefixes', () => {
  const request = (port: number, path: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path, headers }, (res) => {
        res.resume();
        resolve({ status: res.statusCode!, headers: res.headers });
      }).on('error', reject);
    });
  it('answers only loopback Host names (no DNS rebinding), and CORS only as allowed', async () => {
    const dir = await tmp('serve-access');
    await Volume.create(
      join(dir, 'em'),
      createInfo({ type: 'image', dataType: 'uint8', encoding: 'raw', size: [8, 8, 8], resolution: [8, 8, 8], chunkSize: [8, 8, 8], mips: 1 }),
    );
    const open = await serveDirectory(dir, 0);
    const strict = await serveDirectory(dir, 0, '127.0.0.1', { allowOrigin: 'https://lab.example', allowHosts: ['viewer.lab'] });
    const view = await serveView([dir], 0);
    try {
      const [po, ps, pv] = [open, strict, view.server].map((s) => (s.address() as AddressInfo).port);
      expect((await request(po, '/em/info')).headers['access-control-allow-origin']).toBe('*');
      expect((await request(po, '/em/info', { host: 'evil.example:80' })).status).toBe(403);
      expect((await request(po, '/em/info', { host: `localhost:${po}` })).status).toBe(200);
      expect((await request(ps, '/em/info')).headers['access-control-allow-origin']).toBe('https://lab.example');
      expect((await request(ps, '/em/info', { host: 'viewer.lab' })).status).toBe(200);
      expect((await request(ps, '/em/info', { host: 'viewer.lab.evil' })).status).toBe(403);
      const layer = await request(pv, '/layers/em/info');
      expect(layer.status).toBe(200);
      expect(layer.headers['access-control-allow-origin']).toBeUndefined();
      expect((await request(pv, '/layers/em/info', { host: 'rebound.example' })).status).toBe(403);
    } finally {
      for (const s of [open, strict, view.server]) s.close();
    }
  });

  it('--allow-prefix refuses tasks that name storage outside the prefixes, before reading anything', async () => {
    const dir = await tmp('prefix');
    const layer = join(dir, 'allowed', 'em');
    const volume = await Volume.create(
      layer,
      createInfo({ type: 'image', dataType: 'uint8', encoding: 'raw', size: [16, 16, 16], resolution: [8, 8, 8], chunkSize: [8, 8, 8], mips: 2 }),
    );
    await volume.writeChunks(0, allChunks(volume.scale(0)), new Uint8Array(16 ** 3).fill(5), box([0, 0, 0], [16, 16, 16]));
    const task = (l: string) => JSON.stringify({ kind: 'downsample', chunk_path: '16_16_16/0-8_0-8_0-8', layer_path: l });
    const ok = await digest(['task', task(layer), '--allow-prefix', join(dir, 'allowed') + '/', '--backend', 'cpu']);
    expect(ok.code).toBe(0);
    const refused = await digest(['task', task(layer), '--allow-prefix', join(dir, 'allow'), '--allow-prefix', 'gs://lab-bucket/', '--backend', 'cpu']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`storage URL "${layer}" is outside the allowed prefixes (${join(dir, 'allow')}, gs://lab-bucket/)`);
    const byEnv = await digest(['task', task(`file://${layer}`), '--backend', 'cpu'], { DIGEST_ALLOW_PREFIX: 'gs://lab-bucket/' });
    expect(byEnv.stderr).toContain('is outside the allowed prefixes (gs://lab-bucket/)');
  });
});
