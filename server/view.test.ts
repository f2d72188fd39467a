// `digest view` and `digest upload`, and the real Neuroglancer (the bundled viewer) in Debian's
// headless Chromium: every layer digest writes, one small layer per encoding over an odd voxel offset
// with 2x2x1 then 2x2x2 mips, is loaded, every request succeeds, and the values Neuroglancer reports
// under the mouse equal digest's own data at mip 0 and mip 1; meshes of selected segments load.
// Without Chromium the browser test is skipped with a warning, unless DIGEST_REQUIRE_BROWSER=1 (as
// in .ci/run), which makes it a failure.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { decode as decodePng } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { box, Box, Vec3 } from '../common/box.js';
import { allChunks, createInfo, LayerSpec, scaleBounds } from '../precomputed/info.js';
import { allocate, TypedArray } from '../common/dtype.js';
import { Volume } from '../precomputed/volume.js';
import { copyLayer } from '../storage/copy.js';
import { openStore } from '../storage/open.js';
import { listAll } from '../storage/store.js';
import { planDownsample, planMesh, planMultiresMesh, planSkeleton } from '../tasks/plan/planners.js';
import { parseManifest } from '../test/multires-reader.js';
import { chunkFromShardFile, shardFileOf, SpecJson } from '../test/sharded-reader.js';
import { runTask } from '../tasks/registry.js';
import { seededRandom } from '../test/reference.js';
import { runPlan } from '../queue/local/run.js';
import { s3Server } from '../test/s3-server.js';
import { configureStorage } from '../storage/options.js';
import { serveDirectory } from './files.js';
import { serveView, stateUrl, viewerState, ViewServer } from './view.js';

const CHROMIUM = process.env.DIGEST_CHROMIUM ?? '/usr/bin/chromium';
const browserHere = existsSync(CHROMIUM);
if (!browserHere) {
  if (process.env.DIGEST_REQUIRE_BROWSER === '1') throw new Error(`DIGEST_REQUIRE_BROWSER=1 but there is no ${CHROMIUM}`);
  console.warn(`skipping the browser test: no ${CHROMIUM}`);
}

const SIZE: Vec3 = [40, 36, 20];
const OFFSET: Vec3 = [3, 5, 7];
const common = {
  size: SIZE,
  voxelOffset: OFFSET,
  resolution: [4, 4, 4] as Vec3,
  chunkSize: [16, 16, 8] as Vec3,
  factors: [
    [2, 2, 1],
    [2, 2, 2],
  ] as Vec3[],
  mips: 2,
};

/** One small layer per encoding and data type digest writes. */
const LAYERS: Record<string, Omit<LayerSpec, keyof typeof common>> = {
  raw_uint8: { type: 'image', dataType: 'uint8', encoding: 'raw' },
  raw_uint16: { type: 'image', dataType: 'uint16', encoding: 'raw' },
  raw_float32: { type: 'image', dataType: 'float32', encoding: 'raw' },
  raw_uint32: { type: 'image', dataType: 'uint32', encoding: 'raw' },
  raw_uint64: { type: 'segmentation', dataType: 'uint64', encoding: 'raw' },
  png_uint8: { type: 'image', dataType: 'uint8', encoding: 'png' },
  png_uint16: { type: 'image', dataType: 'uint16', encoding: 'png' },
  jpeg_1: { type: 'image', dataType: 'uint8', encoding: 'jpeg' },
  jpeg_3: { type: 'image', dataType: 'uint8', encoding: 'jpeg', numChannels: 3 },
  cseg_uint32: { type: 'segmentation', dataType: 'uint32', encoding: 'compressed_segmentation' },
  cseg_uint64: { type: 'segmentation', dataType: 'uint64', encoding: 'compressed_segmentation' },
  // Sharded (neuroglancer_uint64_sharded_v1), about 4 chunks to a shard.
  sharded_uint64: { type: 'segmentation', dataType: 'uint64', encoding: 'compressed_segmentation', sharding: { targetBytes: 4 * 16 * 16 * 8 * 8 } },
  sharded_uint8: { type: 'image', dataType: 'uint8', encoding: 'raw', sharding: { targetBytes: 4 * 16 * 16 * 8 } },
  // Multi-resolution meshes of a few large segments (several nodes each: more than one lod).
  multires_uint32: { type: 'segmentation', dataType: 'uint32', encoding: 'compressed_segmentation' },
  multires_sharded: { type: 'segmentation', dataType: 'uint64', encoding: 'compressed_segmentation', sharding: { targetBytes: 4 * 16 * 16 * 8 * 8 } },
};
/** JPEG is lossy and browsers decode it with their own IDCT: values within this of digest's decode. */
const JPEG_TOLERANCE = 3;

/** Smooth values (JPEG keeps them near), labels in blocks, values that need all of their type's bits. */
function voxelValue(name: string, x: number, y: number, z: number, c: number): number | bigint {
  const smooth = Math.round(128 + 60 * Math.sin(x / 7 + c) + 40 * Math.cos(y / 5) + 20 * Math.sin(z / 3));
  if (name.startsWith('multires')) {
    const label = 1 + (x >= 23 ? 1 : 0) + (y >= 25 ? 2 : 0) + (z >= 17 ? 4 : 0);
    return name.endsWith('sharded') ? BigInt(label) + 2n ** 33n : label;
  }
  if (name.endsWith('uint64')) return 2n ** 40n + BigInt((x >> 3) + 16 * (y >> 3) + 256 * (z >> 2));
  if (name === 'cseg_uint32') return 2 ** 31 + (x >> 3) + 16 * (y >> 3) + 256 * (z >> 2);
  if (name.endsWith('uint16')) return smooth * 257 + (x % 7);
  if (name.endsWith('uint32')) return 2 ** 30 + smooth * 1000 + x;
  if (name.endsWith('float32')) return Math.fround(smooth / 7 - 10.25);
  return smooth;
}

async function writeLayer(dir: string, name: string): Promise<Volume> {
  const info = createInfo({ ...common, ...LAYERS[name] });
  const url = `file://${join(dir, name)}`;
  const volume = await Volume.create(url, info);
  const channels = info.num_channels;
  const bounds = scaleBounds(volume.scale(0));
  const [sx, sy, sz] = [0, 1, 2].map((a) => bounds.stop[a] - bounds.start[a]);
  const data = allocate(info.data_type, sx * sy * sz * channels);
  let i = 0;
  for (let ch = 0; ch < channels; ch++)
    for (let z = bounds.start[2]; z < bounds.stop[2]; z++)
      for (let y = bounds.start[1]; y < bounds.stop[1]; y++)
        for (let x = bounds.start[0]; x < bounds.stop[0]; x++) {
          (data as unknown as (number | bigint)[])[i++] = voxelValue(name, x, y, z, ch) as never;
        }
  expect(await volume.writeWithin(0, bounds, data)).toBe(allChunks(volume.scale(0)).length);
  const summary = await runPlan(await planDownsample({ layerPath: url }), runTask, { concurrency: 2, progress: false });
  expect(summary.dead).toEqual([]);
  if (name === 'cseg_uint64') expect((await runPlan(await planMesh({ layerPath: url }), runTask, { concurrency: 2, progress: false })).dead).toEqual([]);
  // Multi-resolution meshes: unsharded on one layer, sharded (two shards) on another.
  const multires = name === 'multires_uint32' ? {} : name === 'multires_sharded' ? { shardBits: 1 } : undefined;
  if (multires) expect((await runPlan(await planMultiresMesh({ layerPath: url, ...multires }), runTask, { concurrency: 2, progress: false })).dead).toEqual([]);
  // Skeletons on the same two layers: unsharded on one, sharded (two shards) on the other; every piece kept.
  if (multires)
    expect((await runPlan(await planSkeleton({ layerPath: url, ...multires, dust: 0 }), runTask, { concurrency: 2, progress: false })).dead).toEqual([]);
  return Volume.open(url);
}

/** digest's own value at global voxel p of `mip` (p in mip-0 voxels), all channels. */
async function digestValue(volume: Volume, mip: number, p: Vec3): Promise<(number | bigint)[]> {
  const scale = volume.scale(mip);
  const f = scale.resolution.map((r, a) => r / volume.scale(0).resolution[a]);
  const q = p.map((v, a) => Math.floor(v / f[a])) as Vec3;
  const region: Box = box(q, q.map((v) => v + 1) as Vec3);
  const data: TypedArray = await volume.read(mip, region);
  return Array.from(data as ArrayLike<number | bigint>);
}

/** Neuroglancer's value (a number, a string for uint64, an array or object per channel) as a list. */
function reported(value: unknown): (number | bigint)[] {
  const one = (v: unknown) => (typeof v === 'string' && /^\d+$/.test(v) ? BigInt(v) : Number(v));
  if (Array.isArray(value)) return value.map(one);
  if (value !== null && typeof value === 'object') return Object.values(value).map(one);
  return [one(value)];
}

describe('digest upload', () => {
  it('copies a layer as stored: gzip-encoded objects byte for byte, with their encoding', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'digest-upload-'));
    const from = await writeLayer(dir, 'raw_uint16');
    const to = `file://${join(dir, 'copy')}`;
    const summary = await copyLayer(openStore(from.url), openStore(to));
    const files = async (root: string) =>
      (await readdir(root, { recursive: true, withFileTypes: true }))
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name).slice(root.length))
        .sort();
    const a = await files(join(dir, 'raw_uint16')),
      b = await files(join(dir, 'copy'));
    expect(b).toEqual(a);
    expect(a.some((f) => f.endsWith('.gz'))).toBe(true);
    for (const f of a) expect((await readFile(join(dir, 'copy', f))).equals(await readFile(join(dir, 'raw_uint16', f))), f).toBe(true);
    expect(summary.objects).toBe((await listAll(openStore(from.url))).length);
    expect(summary.gzipped).toBe(a.filter((f) => f.endsWith('.gz')).length);
  });
});

describe('digest view server', () => {
  it('serves the viewer, the layers (key.gz as gzip) and a state with every layer and some segments', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'digest-view-'));
    await writeLayer(dir, 'raw_uint8');
    await writeLayer(dir, 'cseg_uint64');
    const view = await serveView([dir], 0);
    try {
      const base = `http://127.0.0.1:${view.port}`;
      const index = await fetch(`${base}/`);
      expect(index.headers.get('content-type')).toMatch(/text\/html/);
      expect(await index.text()).toMatch(/<script type="module"/);
      const chunk = await fetch(`${base}/layers/raw_uint8/4_4_4/3-19_5-21_7-15`);
      expect(chunk.status).toBe(200);
      expect((await chunk.arrayBuffer()).byteLength).toBe(16 * 16 * 8);
      expect((await fetch(`${base}/layers/nope/info`)).status).toBe(404);
      expect((await fetch(`${base}/layers/%E0%A4%A/info`)).status).toBe(400); // an escape that does not decode
      // Byte ranges, as sharded layers are read.
      const info = await (await fetch(`${base}/layers/raw_uint8/info`)).text();
      const part = await fetch(`${base}/layers/raw_uint8/info`, { headers: { Range: 'bytes=2-9' } });
      expect([part.status, part.headers.get('content-range'), await part.text()]).toEqual([206, `bytes 2-9/${info.length}`, info.slice(2, 10)]);
      const tail = await fetch(`${base}/layers/raw_uint8/info`, { headers: { Range: 'bytes=-4' } });
      expect(await tail.text()).toBe(info.slice(-4));
      expect((await fetch(`${base}/layers/raw_uint8/info`, { headers: { Range: `bytes=${info.length}-` } })).status).toBe(416);
      expect((await fetch(`${base}/layers/raw_uint8/../../etc/passwd`)).status).not.toBe(200);
      const state = JSON.parse(decodeURIComponent(view.url.split('#!')[1]));
      expect(state.layers.map((l: { name: string }) => l.name)).toEqual(['raw_uint8', 'cseg_uint64']);
      expect(state.layers[1].segments.length).toBeGreaterThan(0);
      expect(state.layers[1].source).toBe(`precomputed://${base}/layers/cseg_uint64`);
    } finally {
      view.server.close();
    }
  });
});

describe('the default view', () => {
  it('shows one segmentation (the agglomerated one), its largest segments, and a tilted 3D panel without sections', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'digest-view-default-'));
    await writeLayer(dir, 'raw_uint8');
    await writeLayer(dir, 'cseg_uint64');
    await writeLayer(dir, 'multires_uint32');
    // The largest segments of multires_uint32, counted here from its voxel values.
    const counts = new Map<string, number>();
    for (let z = OFFSET[2]; z < OFFSET[2] + SIZE[2]; z++)
      for (let y = OFFSET[1]; y < OFFSET[1] + SIZE[1]; y++)
        for (let x = OFFSET[0]; x < OFFSET[0] + SIZE[0]; x++) {
          const id = String(voxelValue('multires_uint32', x, y, z, 0));
          counts.set(id, (counts.get(id) ?? 0) + 1);
        }
    const largest = [...counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([id]) => id);
    const view = await serveView([dir], 0);
    try {
      const state = JSON.parse(decodeURIComponent(view.url.split('#!')[1]));
      const byName = Object.fromEntries(state.layers.map((l: { name: string }) => [l.name, l]));
      expect(byName.multires_uint32.segments).toEqual(largest);
      expect(state).toMatchObject({ showSlices: false, layout: '4panel' });
      expect(state.projectionOrientation).toHaveLength(4);
    } finally {
      view.server.close();
    }
    const seg = (name: string) => ({ name, source: name, type: 'segmentation' as const, channels: 1, segments: [] });
    const image = { name: 'image', source: 'image', type: 'image' as const, channels: 1, segments: [] };
    const visible = (layers: ReturnType<typeof seg>[]) =>
      (viewerState([image, ...layers]).layers as { name: string; visible?: boolean }[]).filter((l) => l.visible !== false).map((l) => l.name);
    expect(visible([seg('segmentation'), seg('watershed'), seg('segmentation_0.6')])).toEqual(['image', 'segmentation_0.6']);
    expect(visible([seg('watershed'), seg('segmentation')])).toEqual(['image', 'segmentation']);
    expect(visible([seg('b'), seg('a')])).toEqual(['image', 'b']);
  });
});

(browserHere ? describe : describe.skip)('Neuroglancer in Chromium', () => {
  let dir: string, view: ViewServer, browser: Browser, page: Page;
  const volumes: Record<string, Volume> = {};
  const failures: string[] = [];
  const ok = new Set<string>();
  const ranges: { url: string; start: number; end: number }[] = [];
  const names = Object.keys(LAYERS);
  const mip1 = (name: string) => `${name}_mip1`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'digest-browser-'));
    for (const name of names) {
      volumes[name] = await writeLayer(dir, name);
      // The same files with the mip-1 scale first: Neuroglancer keeps the finest scale it has loaded
      // in use, so this is how it reads digest's downsampled chunks for certain.
      const copy = `file://${join(dir, mip1(name))}`;
      await copyLayer(openStore(volumes[name].url), openStore(copy));
      const info = { ...volumes[name].info, scales: volumes[name].info.scales.slice(1) };
      await openStore(copy).put('info', new TextEncoder().encode(JSON.stringify(info)));
    }
    view = await serveView([dir], 0);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--use-gl=angle',
        '--use-angle=swiftshader',
        '--enable-unsafe-swiftshader',
      ],
    });
    page = await browser.newPage({ viewport: { width: 640, height: 480 } });
    page.on('response', (r) => (r.status() >= 400 ? failures.push(`${r.status()} ${r.url()}`) : ok.add(r.url())));
    // Neuroglancer cancels requests it no longer needs (net::ERR_ABORTED): not a failure.
    page.on('requestfailed', (r) => {
      if (!/ERR_ABORTED/.test(r.failure()?.errorText ?? '')) failures.push(`failed ${r.url()}: ${r.failure()?.errorText}`);
    });
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) failures.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => failures.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      const range = /^bytes=(\d+)-(\d+)$/.exec(r.headers()['range'] ?? '');
      if (range) ranges.push({ url: r.url(), start: Number(range[1]), end: Number(range[2]) + 1 });
    });
  });

  afterAll(async () => {
    await browser?.close();
    view?.server.close();
  });

  /** Opens the viewer on `layers` (of view.layers) in `layout`, segments as digest view picked them. */
  async function open(layers: string[], layout: string, shown: ViewServer = view): Promise<void> {
    const state = JSON.parse(decodeURIComponent(shown.url.split('#!')[1]));
    state.layers = state.layers.filter((l: { name: string }) => layers.includes(l.name)).map((l: object) => ({ ...l, visible: true }));
    state.layout = layout;
    await page.goto('about:blank'); // a fresh viewer: only the URL fragment would change otherwise
    await page.goto(`http://127.0.0.1:${shown.port}/#!${encodeURIComponent(JSON.stringify(state))}`);
    await page.waitForFunction(() => (window as unknown as { viewer?: unknown }).viewer !== undefined, null, { timeout: 60_000 });
  }

  /** Every layer's value at voxel p, as Neuroglancer reports it once the view has settled. */
  async function valuesAt(p: Vec3, layers: string[]): Promise<Record<string, unknown>> {
    return page.evaluate(
      async ({ p, layers }) => {
        const v = (window as unknown as { viewer: any }).viewer;
        v.position.value = Float32Array.from(p.map((x) => x + 0.5));
        let last = '';
        for (let attempt = 0; attempt < 240; attempt++) {
          await new Promise((r) => setTimeout(r, 250));
          const ms = v.mouseState;
          ms.coordinateSpace = v.coordinateSpace.value;
          ms.position = Float32Array.from(p.map((x) => x + 0.5));
          ms.active = true;
          ms.changed.dispatch();
          const values = v.layerSelectedValues.toJSON();
          const text = JSON.stringify(values);
          // Settled: a second has passed, every visible chunk is in (isReady), and two reads agree.
          if (attempt >= 4 && v.isReady() && layers.every((l: string) => values[l]?.value !== undefined) && text === last) return values;
          last = text;
        }
        return JSON.parse(last || '{}');
      },
      { p, layers },
    );
  }

  /** Neuroglancer's values at `points` (in `mip`'s voxels) equal digest's, for every encoding. */
  async function check(mip: number, points: Vec3[]): Promise<void> {
    const shown = names.map((n) => (mip === 0 ? n : mip1(n)));
    await open(shown, 'xy');
    for (const p of points) {
      const values = await valuesAt(p, shown);
      for (const name of names) {
        const f = volumes[name].scale(mip).resolution.map((r, a) => r / volumes[name].scale(0).resolution[a]);
        const want = await digestValue(volumes[name], mip, p.map((v, a) => v * f[a]) as Vec3);
        const layer = shown[names.indexOf(name)];
        const got = reported((values[layer] as { value?: unknown } | undefined)?.value);
        const where = `${name} mip ${mip} at ${p} (Neuroglancer: ${JSON.stringify(values[layer])}; failures: ${failures.slice(0, 3).join('; ')})`;
        expect(got.length, where).toBe(want.length);
        if (name.startsWith('jpeg')) got.forEach((g, i) => expect(Math.abs(Number(g) - Number(want[i])), where).toBeLessThanOrEqual(JPEG_TOLERANCE));
        else expect(got.map(String), where).toEqual(want.map(String));
      }
    }
  }

  const random = seededRandom(16);
  /** Random voxels of `mip` (2x2x1 below mip 1), in that mip's coordinates. */
  const points = (n: number, mip: number): Vec3[] =>
    Array.from(
      { length: n },
      () =>
        [0, 1, 2].map((a) => {
          const f = mip === 0 || a === 2 ? 1 : 2;
          const lo = Math.floor(OFFSET[a] / f),
            hi = Math.floor((OFFSET[a] + SIZE[a] - 1) / f);
          return lo + Math.floor(random() * (hi - lo + 1));
        }) as Vec3,
    );

  it("reports digest's values at mip 0 for every encoding", async () => {
    await check(0, points(4, 0));
  });

  it("reports digest's values at mip 1 (2x2x1, odd sizes at the edges) for every encoding", async () => {
    await check(1, points(4, 1));
  });

  /**
   * The byte ranges each lod's fragments take in the file that holds them (`<id>` unsharded, its
   * shard sharded), from the layer's files read by the test readers.
   */
  async function lodRanges(name: string, id: string): Promise<{ file: string; lods: { start: number; end: number }[] }> {
    const meshDir = join(dir, name, 'mesh');
    const info = JSON.parse(await readFile(join(meshDir, 'info'), 'utf8')) as { sharding?: SpecJson };
    let manifest: Uint8Array, dataStart: number, file: string;
    if (info.sharding) {
      file = shardFileOf(BigInt(id), info.sharding);
      const bytes = new Uint8Array(await readFile(join(meshDir, file)));
      manifest = chunkFromShardFile(bytes, BigInt(id), info.sharding)!;
      const total = parseManifest(manifest).lods.reduce((n, l) => n + l.sizes.reduce((a, b) => a + b, 0), 0);
      dataStart = manifest.byteOffset - bytes.byteOffset - total;
    } else {
      file = id;
      manifest = new Uint8Array(await readFile(join(meshDir, `${id}.index`)));
      dataStart = 0;
    }
    const lods: { start: number; end: number }[] = [];
    let at = dataStart;
    for (const l of parseManifest(manifest).lods) {
      const size = l.sizes.reduce((a, b) => a + b, 0);
      lods.push({ start: at, end: at + size });
      at += size;
    }
    return { file, lods };
  }

  it('loads multi-resolution meshes, sharded and unsharded, at more than one lod', async () => {
    for (const name of ['multires_uint32', 'multires_sharded']) {
      const segments: string[] = view.layers.find((l) => l.name === name)!.segments;
      expect(segments.length, name).toBeGreaterThan(0);
      ranges.length = 0;
      // The default 3D view fits the volume (a voxel about 12 pixels): Neuroglancer wants the finest
      // lod and fetches it after the coarser ones.
      await open([name], '3d');
      const base = `http://127.0.0.1:${view.port}/layers/${name}/mesh/`;
      const wanted = await Promise.all(segments.map((id) => lodRanges(name, id)));
      const lodsFetched = () =>
        wanted.map(({ file, lods }) => lods.filter((l) => ranges.some((r) => r.url === `${base}${file}` && r.start < l.end && r.end > l.start)).length);
      for (let i = 0; i < 240 && !lodsFetched().some((n) => n >= 2); i++) await page.waitForTimeout(250);
      expect(Math.max(...lodsFetched()), `${name}: lods fetched per segment ${lodsFetched()} (of ${wanted.map((w) => w.lods.length)})`).toBeGreaterThanOrEqual(
        2,
      );
      if (name === 'multires_uint32') for (const id of segments) expect(ok.has(`${base}${id}.index`), `${name} ${id}.index`).toBe(true);
    }
    expect(failures).toEqual([]);
  });

  it('loads the skeletons of the selected segments, sharded and unsharded', async () => {
    for (const name of ['multires_uint32', 'multires_sharded']) {
      const segments: string[] = view.layers.find((l) => l.name === name)!.segments;
      expect(segments.length, name).toBeGreaterThan(0);
      ranges.length = 0;
      await open([name], '3d');
      const base = `http://127.0.0.1:${view.port}/layers/${name}/skeletons/`;
      // Unsharded: each segment's skeleton file; sharded: ranges of the shard files, answered.
      const read = () =>
        name === 'multires_uint32'
          ? segments.every((id) => ok.has(`${base}${id}`))
          : ranges.some((r) => r.url.startsWith(base) && r.url.endsWith('.shard') && ok.has(r.url));
      for (let i = 0; i < 240 && !(ok.has(`${base}info`) && read()); i++) await page.waitForTimeout(250);
      expect([ok.has(`${base}info`), read()], `${name}: ${failures.join('; ')}`).toEqual([true, true]);
    }
    expect(failures).toEqual([]);
  });

  it('reads layers on s3:// (served by digest view) and over http:// (read by the browser), sharded and not, meshes too', async (ctx) => {
    const s3 = await s3Server();
    if (!s3) return ctx.skip();
    const files = await serveDirectory(dir, 0); // a public https layer's stand-in: CORS for any page
    try {
      configureStorage({ s3Endpoint: s3.endpoint });
      await s3.bucket('digest-view');
      const onS3 = ['sharded_uint8', 'multires_sharded'],
        overHttp = ['cseg_uint64', 'multires_uint32'];
      for (const name of onS3) await copyLayer(openStore(volumes[name].url), openStore(`s3://digest-view/layers/${name}`));
      const httpBase = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
      const remote = await serveView([...onS3.map((n) => `s3://digest-view/layers/${n}`), ...overHttp.map((n) => `${httpBase}/${n}`)], 0);
      try {
        expect(remote.layers.map((l) => [l.name, l.source.startsWith(`http://127.0.0.1:${remote.port}/layers/`)])).toEqual([
          ['sharded_uint8', true],
          ['multires_sharded', true],
          ['cseg_uint64', false],
          ['multires_uint32', false],
        ]);
        expect(remote.layers.find((l) => l.name === 'multires_sharded')!.segments).toEqual(view.layers.find((l) => l.name === 'multires_sharded')!.segments);
        // A web server cannot be listed: digest view picks no segments of an unsharded layer there; these are picked here.
        remote.layers.find((l) => l.name === 'multires_uint32')!.segments = view.layers.find((l) => l.name === 'multires_uint32')!.segments;
        remote.url = stateUrl(`http://127.0.0.1:${remote.port}`, viewerState(remote.layers));
        failures.length = 0;
        const all = [...onS3, ...overHttp];
        await open(all, 'xy', remote);
        for (const p of points(3, 0)) {
          const values = await valuesAt(p, all);
          for (const name of all) {
            const want = await digestValue(volumes[name], 0, p);
            expect(reported((values[name] as { value?: unknown } | undefined)?.value).map(String), `${name} at ${p}: ${failures.join('; ')}`).toEqual(
              want.map(String),
            );
          }
        }
        // Meshes: the sharded one read by range through digest's s3 route, the other from the http server.
        ranges.length = 0;
        await open(['multires_sharded', 'multires_uint32'], '3d', remote);
        const meshRead = (prefix: string) => ranges.some((r) => r.url.startsWith(prefix) && ok.has(r.url));
        const s3Meshes = `http://127.0.0.1:${remote.port}/layers/multires_sharded/mesh/`,
          httpMeshes = `${httpBase}/multires_uint32/mesh/`;
        for (let i = 0; i < 240 && !(meshRead(s3Meshes) && meshRead(httpMeshes)); i++) await page.waitForTimeout(250);
        expect([meshRead(s3Meshes), meshRead(httpMeshes)], failures.join('; ')).toEqual([true, true]);
        expect(failures).toEqual([]);
      } finally {
        await page.goto('about:blank'); // nothing more asked of the servers closed here (the next tests count failed requests)
        remote.server.close();
      }
    } finally {
      files.close();
      s3.stop();
      configureStorage({});
    }
  });

  it("shows a newcomer the image, the segmentation and its largest segments' meshes in the 3D panel (screenshot)", async () => {
    // A layer directory as a user has it: an image and a segmentation with multi-resolution meshes.
    const mine = await mkdtemp(join(tmpdir(), 'digest-newcomer-'));
    await copyLayer(openStore(volumes.raw_uint8.url), openStore(`file://${join(mine, 'image')}`));
    await copyLayer(openStore(volumes.multires_uint32.url), openStore(`file://${join(mine, 'segmentation')}`));
    const own = await serveView([mine], 0);
    try {
      const shown = await browser.newPage({ viewport: { width: 800, height: 600 } });
      const errors: string[] = [];
      shown.on('response', (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
      shown.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
      await shown.goto(own.url);
      await shown.waitForFunction(() => (window as unknown as { viewer?: { isReady(): boolean } }).viewer?.isReady() === true, null, { timeout: 60_000 });
      await shown.waitForTimeout(2000);
      const file = join(mine, 'default-view.png');
      await shown.screenshot({ path: file });
      await shown.close();
      console.log(`the default view: ${file}`);
      // The 3D panel (lower left of the 4 panels, black without sections): coloured mesh pixels,
      // not the yellow bounding box or the thin axis lines.
      const png = decodePng(await readFile(file));
      let coloured = 0,
        total = 0;
      for (let y = Math.round(png.height * 0.56); y < png.height - 30; y++)
        for (let x = 10; x < png.width / 2 - 10; x++) {
          const i = png.channels * (y * png.width + x);
          const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
          total++;
          const yellow = r > 150 && g > 150 && b < 100;
          if (!yellow && Math.max(r, g, b) - Math.min(r, g, b) > 60 && Math.max(r, g, b) > 90) coloured++;
        }
      expect(coloured / total, `coloured pixels in the 3D panel of ${file}`).toBeGreaterThan(0.01);
      expect(errors).toEqual([]);
    } finally {
      own.server.close();
    }
  });

  it('loads the meshes of the selected segments, and every request succeeded', async () => {
    const segments: string[] = view.layers.find((l) => l.name === 'cseg_uint64')!.segments;
    expect(segments.length).toBeGreaterThan(0);
    await open(['cseg_uint64'], '3d');
    const base = `http://127.0.0.1:${view.port}/layers/cseg_uint64/mesh/`;
    const store = openStore(volumes.cseg_uint64.url);
    const wanted: string[] = [];
    for (const id of segments) {
      wanted.push(`${base}${id}:0`);
      const manifest = JSON.parse(new TextDecoder().decode((await store.get(`mesh/${id}:0`))!)) as { fragments: string[] };
      for (const f of manifest.fragments) wanted.push(`${base}${f}`);
    }
    for (let i = 0; i < 240 && !wanted.every((u) => ok.has(u)); i++) await page.waitForTimeout(250);
    expect(wanted.filter((u) => !ok.has(u))).toEqual([]);
    // Every layer's chunks of mips 0 and 1 were fetched, and nothing failed.
    for (const name of names) {
      expect(
        [...ok].some((u) => u.includes(`/layers/${name}/${volumes[name].scale(0).key}/`)),
        name,
      ).toBe(true);
      expect(
        [...ok].some((u) => u.includes(`/layers/${mip1(name)}/${volumes[name].scale(1).key}/`)),
        mip1(name),
      ).toBe(true);
    }
    expect(failures).toEqual([]);
  });
});
