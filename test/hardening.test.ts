// The findings of the attack on digest's edges (issue 10), one describe per finding: each test
// reproduces what went wrong and checks what happens now.
import { execFile, spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CorruptData, InvalidInput, TransientError } from '../common/errors.js';
import { encodeNpy, encodeNpz, readNpzVolume } from '../sources/npz.js';
import { encodePng } from '../codecs/png.js';
import { box } from '../common/box.js';
import { allChunks, createInfo, parseInfo } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { fileError, FileStore } from '../storage/file-store.js';
import { openStore } from '../storage/open.js';
import { configureStorage, DEFAULT_STORAGE } from '../storage/options.js';
import { listAll } from '../storage/store.js';
import { runTask } from '../tasks/registry.js';
import { listPlan } from '../tasks/plan/format.js';
import { GcsTestServer } from './gcs-server.js';
import { serveDirectory } from '../server/files.js';
import { runDigest, tmpDir } from './cli.js';

const dist = join(__dirname, '..', 'dist');
const gcs = new GcsTestServer();
let endpoint = '';

beforeAll(async () => {
  endpoint = await gcs.start();
  configureStorage({ gcsEndpoint: endpoint, retryDelayMs: 20 });
});
afterAll(async () => {
  configureStorage(DEFAULT_STORAGE);
  await gcs.stop();
});

/** The CLI against the GCS test server. */
const digest = (args: string[], env: Record<string, string> = {}) => runDigest(args, { STORAGE_EMULATOR_HOST: endpoint, ...env });

const tmp = tmpDir;

async function imageLayer(url: string, size: [number, number, number] = [32, 32, 16], encoding: 'raw' | 'jpeg' | 'png' = 'raw'): Promise<Volume> {
  const volume = await Volume.create(
    url,
    createInfo({ type: 'image', dataType: 'uint8', encoding, size, resolution: [4, 4, 40], chunkSize: [16, 16, 8], mips: 1 }),
  );
  await volume.writeChunks(0, allChunks(volume.scale(0)), new Uint8Array(size[0] * size[1] * size[2]).fill(9), box([0, 0, 0], size));
  return volume;
}

describe('finding 1: a storage request that never answers, and a task that runs too long', () => {
  it('times out and retries a request that hangs once, then succeeds', async () => {
    const store = openStore('gs://hang-once/layer');
    await store.put('k', new TextEncoder().encode('v'));
    let hung = 0;
    gcs.hang = (r) => r.startsWith('GET') && r.includes('/o/') && hung++ === 0;
    configureStorage({ gcsEndpoint: endpoint, retryDelayMs: 20, timeoutMs: 300 });
    try {
      expect(new TextDecoder().decode((await store.get('k'))!)).toBe('v');
      expect(hung).toBeGreaterThanOrEqual(2);
      // An upload that hangs (the multipart request) is retried the same way.
      hung = 0;
      gcs.hang = (r) => r.startsWith('POST /upload') && hung++ === 0;
      await store.put('k2', new TextEncoder().encode('w'));
      expect(hung).toBeGreaterThanOrEqual(2);
      expect(new TextDecoder().decode((await store.get('k2'))!)).toBe('w');
    } finally {
      gcs.hang = () => false;
      configureStorage({ gcsEndpoint: endpoint, retryDelayMs: 20 });
    }
  });

  it('run --local ends with the request named when storage never answers', async () => {
    await imageLayer('gs://hang-always/layer');
    const dir = await tmp('hang');
    const plan = join(dir, 'plan.json');
    await writeFile(
      plan,
      JSON.stringify(
        listPlan('gs://hang-always/layer', [
          { name: 'one', tasks: [{ kind: 'downsample', chunk_path: '8_8_80/0-16_0-16_0-8', layer_path: 'gs://hang-always/layer' }] },
        ]),
      ),
    );
    gcs.hang = (r) => r.includes('/b/hang-always/');
    try {
      const r = await digest(['run', '--local', plan, '--threads', '1', '--attempts', '2', '--storage-timeout', '0.5', '--storage-retries', '1']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/gs:\/\/hang-always\/layer\/info: no answer for 0.5 s \(after 2 attempts\)/);
      expect(r.stderr).toContain('0/1 tasks done');
      expect(r.seconds).toBeLessThan(120); // a hang, not a slow machine: storage answers nothing for 60 s x 7 by default
    } finally {
      gcs.hang = () => false;
    }
  });

  it('run --local stops a task past --task-timeout', async () => {
    const slow = new GcsTestServer();
    const url = await slow.start();
    try {
      configureStorage({ gcsEndpoint: url, retryDelayMs: 20 });
      await imageLayer('gs://slow/layer');
      configureStorage({ gcsEndpoint: endpoint, retryDelayMs: 20 });
      slow.latencyMs = 1500; // reading the info and 8 chunks and writing one takes far more than 1 s
      const dir = await tmp('slow');
      const plan = join(dir, 'plan.json');
      await writeFile(
        plan,
        JSON.stringify(
          listPlan('gs://slow/layer', [{ name: 'one', tasks: [{ kind: 'downsample', chunk_path: '8_8_80/0-16_0-16_0-8', layer_path: 'gs://slow/layer' }] }]),
        ),
      );
      const r = await digest(['run', '--local', plan, '--threads', '1', '--attempts', '1', '--task-timeout', '1'], { STORAGE_EMULATOR_HOST: url });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('stopped after the task time limit of 1 s');
    } finally {
      await slow.stop();
    }
  });
});

describe('finding 2: digest serve on hostile requests', () => {
  it('answers 400 to a malformed escape and stays up; refuses a symbolic link out of its root', async () => {
    const root = await tmp('serve');
    await writeFile(join(root, 'info'), '{}');
    const outside = await tmp('outside');
    await writeFile(join(outside, 'secret'), 'secret');
    await symlink(join(outside, 'secret'), join(root, 'leak'));
    const server = await serveDirectory(root, 0);
    const port = (server.address() as AddressInfo).port;
    const status = (path: string) =>
      new Promise<number>((resolve, reject) =>
        get({ host: '127.0.0.1', port, path }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        }).on('error', reject),
      );
    try {
      expect(await status('/%E0%A4%A')).toBe(400);
      expect(await status('/info')).toBe(200); // still serving
      expect(await status('/leak')).toBe(403);
      expect(await status('/../../etc/passwd')).toBe(404); // normalised inside the root first
    } finally {
      server.close();
    }
  });
});

describe('finding 3: box keys must be canonical', () => {
  it('refuses suffixed or zero-padded boxes in tasks', async () => {
    const seg = 'mem://canonical/seg',
      aff = 'mem://canonical/aff';
    await expect(
      runTask({ kind: 'mean_graph', chunk_position: '0-64_0-64_0-64.dup', layer_path_affinities: aff, layer_path_segmentation: seg }),
    ).rejects.toThrow('MeanGraph task: chunk_position must be a canonical box x0-x1_y0-y1_z0-z1 (no leading zeros, no suffix), got "0-64_0-64_0-64.dup"');
    await expect(runTask({ kind: 'mesh', chunk_key: '4_4_40', chunk_position: '00-16_0-16_0-8', layer_path: seg })).rejects.toThrow(
      /Mesh task: chunk_position must be a canonical box/,
    );
  });
});

describe('finding 4: scale keys that would overwrite or escape', () => {
  const info = (keys: string[]) => ({
    type: 'image',
    data_type: 'uint8',
    num_channels: 1,
    scales: keys.map((key, i) => ({ key, size: [64, 64, 64], resolution: [4 << i, 4 << i, 40 << i], chunk_sizes: [[64, 64, 64]], encoding: 'raw' })),
  });
  it('refuses duplicate keys and keys with ".." parts before anything is written', async () => {
    expect(() => parseInfo(info(['4_4_40', '4_4_40']))).toThrow('info: scales[1].key "4_4_40" is also the key of scales[0]');
    expect(() => parseInfo(info(['4_4_40', '../escape']))).toThrow(/info: scales\[1\].key "..\/escape" must be a relative path/);
    expect(() => parseInfo(info(['/abs']))).toThrow(/scales\[0\].key "\/abs" must be a relative path/);
    expect(parseInfo(info(['a/4_4_40', 'a/8_8_80'])).scales.map((s) => s.key)).toEqual(['a/4_4_40', 'a/8_8_80']);
    const url = `mem://dup-keys/${Date.now()}`;
    await openStore(url).put('info', new TextEncoder().encode(JSON.stringify(info(['4_4_40', '4_4_40']))));
    await expect(runTask({ kind: 'downsample', chunk_path: '4_4_40/0-64_0-64_0-64', layer_path: url })).rejects.toThrow(/is also the key of scales\[0\]/);
    expect(await listAll(openStore(url))).toEqual(['info']);
  });
});

/** Runs `body` (an ES module) in a fresh node and returns what it prints and its peak memory. */
async function inChild(body: string): Promise<{ out: string; maxRssMiB: number }> {
  const code = `${body}\nconsole.log('RSS ' + Math.round(process.resourceUsage().maxRSS / 1024));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', code], { cwd: dist, maxBuffer: 1 << 20 });
  const m = /RSS (\d+)\s*$/.exec(stdout)!;
  return { out: stdout.slice(0, m.index), maxRssMiB: Number(m[1]) };
}

function pngFile(width: number, height: number, idat: Uint8Array): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'latin1');
    out.set(data, 8);
    out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

describe('finding 5: small hostile files must not inflate without bound', () => {
  const BOMB = 256 << 20; // what each file would inflate to
  it('refuses gzip, npz, PNG and JPEG bombs before inflating them, in bounded memory', async () => {
    const dir = await tmp('bombs');
    const layer = `file://${join(dir, 'layer')}`;
    const volume = await imageLayer(layer);
    // A raw chunk stored as key.gz: 8 gzip members of 32 MiB of zeros each (gunzip reads them all).
    const member = gzipSync(Buffer.alloc(BOMB / 8), { level: 9 });
    await writeFile(join(dir, 'layer', '4_4_40', '0-16_0-16_0-8.gz'), Buffer.concat(Array(8).fill(member)));
    // One small enough to pass for a chunk file (2 KiB) that still inflates to 2 MiB.
    await writeFile(join(dir, 'layer', '4_4_40', '16-32_0-16_0-8.gz'), gzipSync(Buffer.alloc(2 << 20), { level: 9 }));
    // An npz build chunk whose one entry inflates to 256 MiB; its name says 16x16x8 uint8.
    const npz = encodeNpz({ data: encodeNpy(new Uint8Array(16 * 16 * 8), [16, 16, 8]) });
    const entry = deflateRawSync(Buffer.alloc(BOMB / 4), { level: 9 }); // small enough a file to be opened
    await mkdir(join(dir, 'build'));
    await writeFile(join(dir, 'build', '0-16_0-16_0-8.npz'), zipWithEntry('data.npy', entry, BOMB / 4));
    // PNG slices: one 16x16 whose data inflates to 256 MiB, one declaring 10000 x 10000.
    await mkdir(join(dir, 'build', '16-32_0-16_0-1'));
    await mkdir(join(dir, 'build', '0-16_16-32_0-1'));
    await writeFile(join(dir, 'build', '16-32_0-16_0-1', '0.png'), pngFile(16, 16, deflateSync(Buffer.alloc(BOMB), { level: 9 })));
    await writeFile(join(dir, 'build', '0-16_16-32_0-1', '0.png'), pngFile(10000, 10000, deflateSync(Buffer.alloc(1 << 20))));
    await mkdir(join(dir, 'build', '16-32_16-32_0-1'));
    await writeFile(join(dir, 'build', '16-32_16-32_0-1', '0.png'), pngFile(16, 16, deflateSync(Buffer.alloc(32 << 20), { level: 9 })));
    expect(npz.length).toBeGreaterThan(0);
    const ingest = (path: string, encoding: string) =>
      JSON.stringify({ kind: 'ingest', chunk_path: `file://${join(dir, 'build', path)}`, chunk_encoding: encoding, layer_path: layer });
    const { out, maxRssMiB } = await inChild(`
      const { runTask } = await import('./tasks/registry.js');
      const { decodeJpeg } = await import('./codecs/jpeg.js');
      const say = (what, p) => p.then(() => console.log(what + ': read'), (e) => console.log(what + ': ' + e.name + ': ' + e.message));
      await say('gzip chunk', runTask({ kind: 'downsample', chunk_path: '8_8_80/0-16_0-16_0-8', layer_path: '${layer}' }));
      const { Volume } = await import('./precomputed/volume.js');
      const v = await Volume.open('${layer}');
      await say('small gzip chunk', v.readChunk(0, { start: [16, 0, 0], stop: [32, 16, 8] }));
      await say('npz', runTask(${ingest('0-16_0-16_0-8.npz', 'npz')}));
      await say('png bomb', runTask(${ingest('16-32_0-16_0-1', 'png')}));
      await say('small png bomb', runTask(${ingest('16-32_16-32_0-1', 'png')}));
      await say('png 10000x10000', runTask(${ingest('0-16_16-32_0-1', 'png')}));
      // A JPEG declaring 10000 x 10000 where a 16x16x8 chunk is expected.
      const jpeg = new Uint8Array(${JSON.stringify(Array.from(hugeJpegHeader()))});
      await say('jpeg 10000x10000', (async () => decodeJpeg(jpeg, [16, 16, 8], 1))());
    `);
    // Files larger than any chunk they could be are refused unread; smaller ones are not inflated past it.
    expect(out).toContain(
      `gzip chunk: CorruptData: ${layer}/4_4_40/0-16_0-16_0-8: ${join(dir, 'layer', '4_4_40', '0-16_0-16_0-8.gz')}: 261080 bytes, more than the 2117 expected`,
    );
    expect(out).toContain(
      `small gzip chunk: CorruptData: ${layer}/4_4_40/16-32_0-16_0-8: ${join(dir, 'layer', '4_4_40', '16-32_0-16_0-8.gz')}: inflates to more than the 2048 bytes expected`,
    );
    expect(out).toMatch(/npz: CorruptData: .*array 'data' declares 67108864 bytes, more than the 2048 bytes of data expected/);
    expect(out).toMatch(/png bomb: CorruptData: .*16-32_0-16_0-1\/0\.png: \d+ bytes, more than the 66560 expected/);
    expect(out).toMatch(/small png bomb: CorruptData: .*16-32_16-32_0-1\/0\.png: corrupt PNG data/);
    expect(out).toContain('png 10000x10000: CorruptData');
    expect(out).toContain('10000x10000, 1 channel(s), 8-bit; expected 16x16, 1, 8-bit');
    expect(out).toContain('jpeg 10000x10000: CorruptData: jpeg chunk is 10000x10000, expected 16x128 for shape [16,16,8]');
    expect(maxRssMiB).toBeLessThan(200); // each bomb alone would take 256 MiB
    expect(await volume.store.exists('8_8_80/0-16_0-16_0-8')).toBe(false);
  });

  it('decodes fuzzed JPEGs to a chunk or a CorruptData error, never more', async () => {
    const { out, maxRssMiB } = await inChild(`
      const { decodeJpeg, encodeJpeg } = await import('./codecs/jpeg.js');
      const { seededRandom } = await import('./test/reference.js');
      const good = encodeJpeg(Uint8Array.from({ length: 64 * 64 * 8 }, (_, i) => (i * 7) % 251), [64, 64, 8], 1);
      const random = seededRandom(524);
      const kinds = new Set();
      for (let t = 0; t < 300; t++) {
        const bad = good.slice(0, 524);
        for (let k = 0; k < 8; k++) bad[Math.floor(random() * bad.length)] = Math.floor(random() * 256);
        try { decodeJpeg(bad, [64, 64, 8], 1); kinds.add('decoded'); } catch (e) { kinds.add(e.name); }
      }
      console.log([...kinds].sort().join(','));
    `);
    expect(
      out
        .trim()
        .split(',')
        .filter((k) => k !== 'decoded'),
    ).toEqual(['CorruptData']);
    expect(maxRssMiB).toBeLessThan(200);
  });
});

/** A zip holding one deflated entry of `size` bytes (entry: raw deflate data), as numpy would write it. */
function zipWithEntry(name: string, entry: Uint8Array, size: number): Uint8Array {
  const fileName = Buffer.from(name);
  const local = Buffer.alloc(30 + fileName.length);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(entry.length, 18);
  local.writeUInt32LE(size, 22);
  local.writeUInt16LE(fileName.length, 26);
  fileName.copy(local, 30);
  const central = Buffer.alloc(46 + fileName.length);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(entry.length, 20);
  central.writeUInt32LE(size, 24);
  central.writeUInt16LE(fileName.length, 28);
  fileName.copy(central, 46);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length, 12);
  end.writeUInt32LE(local.length + entry.length, 16);
  return Buffer.concat([local, entry, central, end]);
}

/** The start of a baseline JPEG whose frame declares 10000 x 10000 pixels, one component. */
function hugeJpegHeader(): Uint8Array {
  return Uint8Array.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x27, 0x10, 0x27, 0x10, 0x01, 0x01, 0x11, 0x00, 0xff, 0xd9]);
}

describe('finding 6: number flags', () => {
  it('refuses non-numbers and out-of-range numbers with the flag named, before doing anything', async () => {
    const dir = await tmp('flags');
    const plan = join(dir, 'plan.json');
    await writeFile(plan, JSON.stringify({ layer_path: 'x', stages: [] }));
    const cases: [string[], RegExp][] = [
      [['run', '--local', plan, '--attempts', 'abc'], /option '--attempts <n>' argument 'abc' is invalid\. must be an integer 1\.\.100/],
      [['run', '--local', plan, '--threads', 'abc'], /option '--threads <n>' argument 'abc' is invalid/],
      [['run', '--local', plan, '--threads', '100000'], /option '--threads <n>' argument '100000' is invalid\. must be an integer 1\.\./],
      [
        ['create-layer', join(dir, 'l'), '--type', 'image', '--dtype', 'uint8', '--size', '1e8,1e8,1e8', '--resolution', '4,4,40'],
        /--size <x,y,z>' argument '1e8,1e8,1e8' is invalid\. must be three integers X,Y,Z/,
      ],
      [
        ['create-layer', join(dir, 'l'), '--type', 'image', '--dtype', 'uint8', '--size', '64,64,64', '--resolution', '4,4,40', '--mips', 'abc'],
        /--mips <n>' argument 'abc' is invalid/,
      ],
      [['plan', 'downsample', '--layer', join(dir, 'l'), '--from-mip', 'x'], /--from-mip <m>' argument 'x' is invalid/],
      [['serve', dir, '--port', 'abc'], /--port <port>' argument 'abc' is invalid/],
      [['work', '--subscription', 's', '--prefetch', '-1'], /--prefetch <n>' argument '-1' is invalid/],
    ];
    for (const [args, message] of cases) {
      const r = await digest(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    // A huge but valid size is accepted; planning it is refused before memory runs out.
    const big = join(dir, 'big');
    expect(
      (
        await digest([
          'create-layer',
          big,
          '--type',
          'image',
          '--dtype',
          'uint8',
          '--size',
          '100000000,100000000,100000000',
          '--resolution',
          '4,4,40',
          '--mips',
          '2',
        ])
      ).code,
    ).toBe(0);
    const r = await digest(['plan', 'downsample', '--layer', big]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /plan: downsample tasks over .* would be \d\.\d+e\+\d+ tasks, more than 2\.68e\+8; use larger chunks, or more --memory \(more mips a task\)/,
    );
  });
});

describe('finding 7: two files for one PNG slice', () => {
  it('refuses the stack, naming both', async () => {
    const build = `mem://png-dup/${Date.now()}`;
    const layer = `mem://png-dup-layer/${Date.now()}`;
    await Volume.create(
      layer,
      createInfo({ type: 'image', dataType: 'uint8', encoding: 'raw', size: [16, 16, 2], resolution: [4, 4, 40], chunkSize: [16, 16, 2], mips: 0 }),
    );
    const slice = encodePng(new Uint8Array(256), [16, 16, 1], 1);
    for (const name of ['0.png', '1.png', '0001.png']) await openStore(build).put(`0-16_0-16_0-2/${name}`, slice);
    await expect(runTask({ kind: 'ingest', chunk_path: `${build}/0-16_0-16_0-2`, chunk_encoding: 'png', layer_path: layer })).rejects.toThrow(
      /0001\.png and 1\.png are both slice 1; keep one|1\.png and 0001\.png are both slice 1; keep one/,
    );
  });
});

describe('finding 9: errors name the file', () => {
  it('plan files, npz offsets, directories where chunks belong, full disks, checksum failures', async () => {
    const dir = await tmp('names');
    const plan = join(dir, 'plan.json');
    await writeFile(plan, '{"version": 2, "layer_path": "x", "stages": [{');
    expect((await digest(['run', '--local', plan])).stderr).toContain(`digest: ${plan}: not valid JSON`);
    await writeFile(plan, '{"version": 2, "layer_path": "x", "stages": [1]}');
    expect((await digest(['run', '--local', plan])).stderr).toContain(`digest: ${plan}: stages[0] must be a JSON object, got 1`);
    await writeFile(
      plan,
      '{"version": 2, "layer_path": "x", "stages": [{"name": "s", "sets": [{"list": [{"kind": "downsample", "chunk_path": 7, "layer_path": "y"}]}]}]}',
    );
    expect((await digest(['run', '--local', plan])).stderr).toContain(
      `digest: ${plan}: stages[0].sets[0].list[0].chunk_path must be a non-empty string, got 7`,
    );
    await writeFile(
      plan,
      '{"version": 2, "layer_path": "x", "stages": [{"name": "s", "sets": [{"template": {"kind": "downsample", "layer_path": "y"}, "field": "chunk_path", "count": 3}]}]}',
    );
    expect((await digest(['run', '--local', plan])).stderr).toContain(
      `digest: ${plan}: stages[0].sets[0]: task 0 would be invalid: Downsample task: chunk_path must be a non-empty string, got 0`,
    );
    expect((await digest(['run', '--local', join(dir, 'missing.json')])).stderr).toContain(`digest: plan ${join(dir, 'missing.json')}: ENOENT`);

    // An npz whose central directory points outside the file.
    const npz = encodeNpz({ data: encodeNpy(new Uint8Array(8), [2, 2, 2]) });
    const view = new DataView(npz.buffer);
    const centralDirectory = view.getUint32(npz.length - 22 + 16, true);
    view.setUint32(npz.length - 22 + 16, 0xfffffff0, true);
    expect(() => readNpzVolume(npz, { what: 'build.npz' })).toThrow(CorruptData);
    expect(() => readNpzVolume(npz, { what: 'build.npz' })).toThrow(/^build.npz: corrupt zip archive \(/);
    view.setUint32(npz.length - 22 + 16, centralDirectory, true);
    view.setUint32(centralDirectory + 42, 0x7ffffff0, true); // the entry's local header offset
    expect(() => readNpzVolume(npz, { what: 'build.npz' })).toThrow(/^build.npz: corrupt zip archive \(local header of data.npy is missing\)/);

    // A directory where a chunk should be.
    const layer = `file://${join(dir, 'layer')}`;
    await imageLayer(layer);
    await rm(join(dir, 'layer', '4_4_40', '0-16_0-16_8-16.gz'));
    await mkdir(join(dir, 'layer', '4_4_40', '0-16_0-16_8-16'));
    await expect(runTask({ kind: 'downsample', chunk_path: '8_8_80/0-16_0-16_0-8', layer_path: layer })).rejects.toThrow(
      `${join(dir, 'layer', '4_4_40', '0-16_0-16_8-16')} is a directory, not a stored object`,
    );

    // A full disk: the system's ENOSPC, with the path it was writing.
    const full = fileError(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }), '/data/layer/4_4_40/0-64_0-64_0-64.gz');
    expect(full).toBeInstanceOf(TransientError);
    expect(full.message).toBe('/data/layer/4_4_40/0-64_0-64_0-64.gz: no space left on the device');

    // A download whose bytes do not match the object's CRC32C names the object.
    const gs = openStore('gs://flipped/layer');
    await gs.put('chunk', new Uint8Array(1000).fill(3));
    gcs.buckets.get('flipped')!.get('layer/chunk')!.data[500] ^= 1;
    await expect(gs.get('chunk')).rejects.toThrow(/^gs:\/\/flipped\/layer\/chunk: .*(after 7 attempts)/);
    await expect(gs.get('chunk')).rejects.toThrow(CorruptData);
  });
});

describe('finding 10: temp files of killed writers', () => {
  it("are swept by the next write into their directory; live writers' are left alone", async () => {
    const dir = await tmp('leftovers');
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    const deadPid = child.pid!;
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await mkdir(join(dir, 's'));
    const stale = join(dir, 's', `chunk.gz.tmp-${deadPid}-0badc0de`);
    const fresh = join(dir, 's', `other.tmp-${deadPid}-0badc0df`);
    const live = join(dir, 's', `third.tmp-${process.ppid}-0badc0e0`);
    for (const f of [stale, fresh, live]) await writeFile(f, '');
    const old = new Date(Date.now() - 60_000);
    await utimes(stale, old, old);
    await utimes(live, old, old);
    await new FileStore(dir).put('s/new', new Uint8Array(3));
    expect((await readdir(join(dir, 's'))).sort()).toEqual(['new', `other.tmp-${deadPid}-0badc0df`, `third.tmp-${process.ppid}-0badc0e0`].sort());
    expect(await readFile(join(dir, 's', 'new'))).toEqual(Buffer.from([0, 0, 0]));
  });
});

describe('finding 12: the GCS test server behaves like GCS on downloads', () => {
  it('sends the crc32c taken at upload and the stored encoding, so the client checks what it downloads', async () => {
    const gs = openStore('gs://hashes/layer');
    await gs.put('plain', new Uint8Array(5000).fill(1));
    await gs.put('zipped', new Uint8Array(5000).fill(1), { gzip: true });
    expect((await gs.get('plain'))!.length).toBe(5000);
    expect((await gs.get('zipped'))!.length).toBe(5000);
    // A bit flipped at rest (a plain object: nothing else would notice) and in a gzip object's trailer.
    gcs.buckets.get('hashes')!.get('layer/plain')!.data[2500] ^= 0x10;
    const zipped = gcs.buckets.get('hashes')!.get('layer/zipped')!.data;
    zipped[zipped.length - 1] ^= 0x10;
    await expect(gs.get('plain')).rejects.toThrow(/^gs:\/\/hashes\/layer\/plain: The downloaded data did not match/);
    await expect(gs.get('zipped')).rejects.toThrow(/^gs:\/\/hashes\/layer\/zipped: /);
  });

  it('serves byte ranges of stored objects', async () => {
    const gs = openStore('gs://ranges/layer');
    await gs.put(
      'r',
      Uint8Array.from({ length: 100 }, (_, i) => i),
    );
    expect(Array.from((await gs.getRange('r', 10, 5))!)).toEqual([10, 11, 12, 13, 14]);
    expect(Array.from((await gs.getRange('r', 98, 5))!)).toEqual([98, 99]);
    expect((await gs.getRange('r', 200, 5))!.length).toBe(0);
    expect(await gs.getRange('missing', 0, 5)).toBeNull();
    expect(gcs.ranges).toBeGreaterThanOrEqual(2);
  });
});

describe('errors carry their kind', () => {
  it('invalid input and corrupt data are permanent; the rest are retried', async () => {
    await expect(runTask('{"kind":')).rejects.toThrow(InvalidInput);
    await expect(runTask({ kind: 'downsample', chunk_path: '8_8_80/0-16_0-16_0-8', layer_path: 'mem://nothing-here' })).rejects.toThrow(InvalidInput);
  });
});
