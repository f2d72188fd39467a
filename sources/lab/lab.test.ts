// Lab files as ingest sources: files written by the writers labs use (Debian's python3-tifffile,
// python3-h5py, python3-zarr, python3-pil; zarr v3 by hand from its spec: test/lab/make-lab-files.py) are
// ingested region by region into layers of odd sizes and offsets; every voxel of mip 0 equals the
// file's, and the mips equal the reference downsampling. Bad files are refused naming the file.
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseChunkKey, Vec3 } from '../../common/box.js';
import { DataType, fromBytes } from '../../common/dtype.js';
import { chunksWithin, createInfo, scaleBounds } from '../../precomputed/info.js';
import { Volume } from '../../precomputed/volume.js';
import { runPlan } from '../../queue/local/run.js';
import { listAll } from '../../storage/store.js';
import { openStore } from '../../storage/open.js';
import { planIngestSource } from '../../tasks/plan/planners.js';
import { PROCESS_BYTES } from '../../tasks/plan/task-size.js';
import { runTask } from '../../tasks/registry.js';
import { runDigest, tmpDir } from '../../test/cli.js';
import { referencePyramid } from '../../test/reference.js';
import { LabSource } from './registry.js';

const SCRIPT = join(__dirname, '..', '..', 'test', 'lab', 'make-lab-files.py');
let dir = '';
let manifest: Record<string, { dtype: string; shape: Vec3; resolution?: Vec3; offset?: Vec3 }> = {};

beforeAll(async () => {
  dir = await tmpDir('lab');
  // Debian's python3 with python3-tifffile, -h5py, -zarr and -numpy (.ci/run installs them).
  const made = spawnSync('/usr/bin/python3', [SCRIPT, dir], { encoding: 'utf8' });
  if (made.status !== 0)
    throw new Error(`test/lab/make-lab-files.py failed (apt install python3-tifffile python3-h5py python3-zarr python3-numpy): ${made.stderr}`);
  manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const url = (file: string) => `file://${join(dir, file)}`;

/** The file's voxels as the writer saved them beside it (x fastest). */
async function reference(name: string): Promise<ArrayLike<number | bigint>> {
  const dtype = ({ uint8: 'uint8', uint16: 'uint16', float32: 'float32', uint64: 'uint64' } as Record<string, DataType>)[manifest[name].dtype];
  return fromBytes(dtype, new Uint8Array(await readFile(join(dir, `${name}.raw`))));
}

let layers = 0;
/**
 * Ingests `source` into a fresh layer (8x8x4 chunks, 2x2x1 mips, at the file's offset or [5, 3, 1])
 * with tasks of a few chunks each, and checks every mip against the reference.
 */
async function ingestAndCheck(name: string, source: LabSource, opts: { sharded?: boolean; offset?: Vec3; tasks?: number } = {}) {
  const m = manifest[name];
  const layer = `mem://lab-${name}-${layers++}`;
  const dataType = ({ uint8: 'uint8', uint16: 'uint16', float32: 'float32', uint64: 'uint64' } as Record<string, DataType>)[m.dtype];
  const info = createInfo({
    type: dataType === 'uint64' ? 'segmentation' : 'image',
    dataType,
    encoding: dataType === 'uint64' ? 'compressed_segmentation' : 'raw',
    size: m.shape,
    resolution: m.resolution ?? [4, 4, 40],
    voxelOffset: opts.offset ?? m.offset ?? [5, 3, 1],
    chunkSize: [8, 8, 4],
    factors: [[2, 2, 1]],
    mips: 2,
    ...(opts.sharded ? { sharding: { targetBytes: 8 * 8 * 8 * 4 * 2 } } : {}),
  });
  await Volume.create(layer, info);
  // A task of a few chunks: the regions start inside the file and past its chunks' edges.
  const plan = await planIngestSource({ layerPath: layer, source, memory: PROCESS_BYTES + 40_000 });
  expect(plan.stages[0].sets.length).toBe(1);
  const summary = await runPlan(plan, runTask, { concurrency: 2, progress: false });
  expect(summary.dead).toEqual([]);
  expect(summary.done).toBeGreaterThanOrEqual(opts.tasks ?? 3); // several tasks, each its own region
  const volume = await Volume.open(layer);
  const want = referencePyramid(volume.info, await reference(name));
  for (let mip = 0; mip < volume.info.scales.length; mip++)
    expect(Array.from((await volume.read(mip, scaleBounds(volume.scale(mip)))) as ArrayLike<number | bigint>), `mip ${mip}`).toEqual(want[mip]);
  return volume;
}

describe('lab sources, read region by region', () => {
  it('TIFF: a directory of 2D slices in natural order, a multipage deflate TIFF, float32, a tiled BigTIFF, LZW, PackBits, big-endian', async () => {
    await ingestAndCheck('slices', { format: 'tiff', url: url('slices') });
    await ingestAndCheck('multipage', { format: 'tiff', url: url('multipage.tif') });
    await ingestAndCheck('float', { format: 'tiff', url: url('float.tif') });
    await ingestAndCheck('tiled', { format: 'tiff', url: url('tiled.tif') });
    await ingestAndCheck('lzw', { format: 'tiff', url: url('lzw.tif') });
    await ingestAndCheck('bigendian', { format: 'tiff', url: url('bigendian') });
    await ingestAndCheck('packbits', { format: 'tiff', url: url('packbits.tif') });
  });

  it('HDF5: chunked gzip, contiguous, and uint64 labels into a segmentation', async () => {
    await ingestAndCheck('hdf5-chunked', { format: 'hdf5', url: url('volume.h5'), dataset: '/volumes/raw' });
    await ingestAndCheck('hdf5-contiguous', { format: 'hdf5', url: url('volume.h5'), dataset: '/contiguous' });
    await ingestAndCheck('hdf5-labels', { format: 'hdf5', url: url('volume.h5'), dataset: '/labels' });
  });

  it('zarr v2 (gzip, blosc), zarr v3 (and its sharding codec), OME-Zarr levels 0 and 1 with their resolution and offset, N5 gzip', async () => {
    await ingestAndCheck('zarr-gzip', { format: 'zarr', url: url('gzip.zarr') });
    await ingestAndCheck('zarr-blosc', { format: 'zarr', url: url('blosc.zarr') });
    await ingestAndCheck('zarr-v3', { format: 'zarr', url: url('v3.zarr') });
    await ingestAndCheck('zarr-v3-sharded', { format: 'zarr', url: url('v3-sharded.zarr') });
    const ome0 = await ingestAndCheck('ome-0', { format: 'zarr', url: url('ome.zarr') });
    expect(ome0.info.scales[0].voxel_offset).toEqual([3, 0, 2]);
    await ingestAndCheck('ome-1', { format: 'zarr', url: url('ome.zarr'), level: 1 }, { tasks: 1 }); // 18x14x11: one task
    await ingestAndCheck('n5', { format: 'n5', url: url('volume.n5'), dataset: 'raw' });
  });

  it('from a store other than the local disk (mem://): a sharded zarr v3, N5 and a tiled BigTIFF by ranged reads', async () => {
    const copy = async (from: string, to: string) => {
      const src = openStore(url(from)),
        dst = openStore(`mem://lab-remote/${to}`);
      for (const key of await listAll(src)) await dst.put(key, (await src.get(key))!);
    };
    await copy('v3-sharded.zarr', 'v3-sharded.zarr');
    await copy('volume.n5', 'volume.n5');
    await openStore('mem://lab-remote').put('tiled.tif', new Uint8Array(await readFile(join(dir, 'tiled.tif'))));
    await ingestAndCheck('zarr-v3-sharded', { format: 'zarr', url: 'mem://lab-remote/v3-sharded.zarr' });
    await ingestAndCheck('n5', { format: 'n5', url: 'mem://lab-remote/volume.n5', dataset: 'raw' });
    await ingestAndCheck('tiled', { format: 'tiff', url: 'mem://lab-remote/tiled.tif' });
  });

  it('a sharded layer: Shard tasks stream their shards from the file', async () => {
    const volume = await ingestAndCheck('zarr-gzip', { format: 'zarr', url: url('gzip.zarr') }, { sharded: true });
    expect(volume.info.scales[0].sharding).toBeDefined();
  });

  it('create-layer --like takes the geometry from the file; plan ingest --source plans it; import does it all', async () => {
    const out = await tmpDir('lab-cli');
    try {
      const layer = `file://${join(out, 'ome')}`;
      const made = await runDigest(['create-layer', layer, '--like', url('ome.zarr'), '--chunk', '8,8,4', '--factor', '2,2,1']);
      expect(made.stderr).toBe('');
      expect(made.code).toBe(0);
      const { info } = await Volume.open(layer);
      expect([info.data_type, info.num_channels, info.scales[0].size, info.scales[0].resolution, info.scales[0].voxel_offset]).toEqual([
        'uint8',
        1,
        [37, 29, 11],
        [8, 8, 40],
        [3, 0, 2],
      ]);
      const planned = await runDigest(['plan', 'ingest', '--layer', layer, '--source', url('ome.zarr'), '--out', join(out, 'plan.json')]);
      expect(planned.code, planned.stderr).toBe(0);
      const run = await runDigest(['run', join(out, 'plan.json'), '--local', '--threads', '1']);
      expect(run.code, run.stderr).toBe(0);
      const volume = await Volume.open(layer);
      expect(Array.from((await volume.read(0, scaleBounds(volume.scale(0)))) as Uint8Array)).toEqual(Array.from((await reference('ome-0')) as Uint8Array));
      // The HDF5 dataset after '#', the format from the name.
      const h5 = await runDigest([
        'create-layer',
        `file://${join(out, 'h5')}`,
        '--like',
        `${url('volume.h5')}#/labels`,
        '--type',
        'segmentation',
        '--resolution',
        '4,4,40',
      ]);
      expect(h5.code, h5.stderr).toBe(0);
      expect((await Volume.open(`file://${join(out, 'h5')}`)).info.data_type).toBe('uint64');
      // One command from a file to a layer: a tiled BigTIFF, 2 threads, every mip.
      const imported = `file://${join(out, 'imported')}`;
      const done = await runDigest([
        'import',
        url('tiled.tif'),
        imported,
        '--resolution',
        '4,4,40',
        '--chunk',
        '16,16,4',
        '--factor',
        '2,2,1',
        '--threads',
        '2',
      ]);
      expect(done.code, done.stderr).toBe(0);
      expect(done.stdout).toContain(`digest view ${imported}`);
      const layer2 = await Volume.open(imported);
      const want = referencePyramid(layer2.info, await reference('tiled'));
      expect(layer2.info.scales.length).toBeGreaterThan(1);
      for (let mip = 0; mip < layer2.info.scales.length; mip++)
        expect(Array.from((await layer2.read(mip, scaleBounds(layer2.scale(mip)))) as Uint16Array), `mip ${mip}`).toEqual(want[mip]);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

describe('bad lab files are refused naming the file, nothing written', () => {
  const layerFor = async (name: string, dataType: DataType, size: Vec3) => {
    const layer = `mem://lab-bad-${name}-${layers++}`;
    await Volume.create(
      layer,
      createInfo({ type: 'image', dataType, encoding: 'raw', size, resolution: [4, 4, 40], chunkSize: [8, 8, 4], factors: [[2, 2, 1]], mips: 1 }),
    );
    return layer;
  };
  const failOf = async (layer: string, source: LabSource) => {
    const plan = await planIngestSource({ layerPath: layer, source, memory: PROCESS_BYTES + 40_000 });
    const summary = await runPlan(plan, runTask, { concurrency: 1, progress: false, maxAttempts: 1 });
    expect(summary.dead.length).toBeGreaterThan(0);
    return summary.dead[0].error;
  };

  it('a dtype, size or resolution the layer does not have: both named, at plan time', async () => {
    const layer = await layerFor('dtype', 'uint8', [37, 29, 11]);
    await expect(planIngestSource({ layerPath: layer, source: { format: 'tiff', url: url('multipage.tif') } })).rejects.toThrow(
      /multipage\.tif.*the source is uint16, the layer's data_type is uint8/,
    );
    // OME-Zarr states 8 x 8 x 40 nm and an offset of [3, 0, 2]: a layer that says otherwise is refused.
    const ome = await layerFor('resolution', 'uint8', [37, 29, 11]);
    await expect(planIngestSource({ layerPath: ome, source: { format: 'zarr', url: url('ome.zarr') } })).rejects.toThrow(
      /the source says \[8,8,40\] nm per voxel, the layer's mip 0 is \[4,4,40\]/,
    );
    const other = await layerFor('size', 'uint16', [37, 29, 12]);
    await expect(planIngestSource({ layerPath: other, source: { format: 'zarr', url: url('gzip.zarr') } })).rejects.toThrow(
      /the source is 37x29x11 voxels, the layer's mip 0 is 37x29x12/,
    );
  });

  it('a truncated TIFF; a stack with a slice of another shape, or two names for one slice', async () => {
    await copyFile(join(dir, 'tiled.tif'), join(dir, 'cut.tif'));
    await truncate(join(dir, 'cut.tif'), 6000);
    const layer = await layerFor('cut', 'uint16', [37, 29, 11]);
    await expect(planIngestSource({ layerPath: layer, source: { format: 'tiff', url: url('cut.tif') } })).rejects.toThrow(/cut\.tif: its pages do not read/);
    // Cut inside the last page's pixels: planned (its pages read), then its tasks fail, writing nothing.
    const size = (await readFile(join(dir, 'tiled.tif'))).length;
    await copyFile(join(dir, 'tiled.tif'), join(dir, 'cut-late.tif'));
    await truncate(join(dir, 'cut-late.tif'), size - 600);
    const plan = await planIngestSource({ layerPath: layer, source: { format: 'tiff', url: url('cut-late.tif') }, memory: PROCESS_BYTES + 40_000 });
    const summary = await runPlan({ ...plan, stages: [plan.stages[0]] }, runTask, { concurrency: 1, progress: false, maxAttempts: 1 });
    expect(summary.dead.length).toBeGreaterThan(0);
    expect(summary.dead[0].error).toMatch(/cut-late\.tif page \d+/);
    // A task that failed wrote none of its chunks (the others wrote theirs).
    const volume = await Volume.open(layer);
    const written = new Set(await listAll(volume.store));
    expect(written.size).toBeGreaterThan(1);
    for (const d of summary.dead) {
      const region = parseChunkKey((d.task as { chunk_position: string }).chunk_position);
      for (const chunk of chunksWithin(volume.scale(0), region)) expect(written.has(volume.chunkPath(0, chunk))).toBe(false);
    }

    await mkdir(join(dir, 'odd-slices'));
    for (let z = 1; z <= 11; z++) await copyFile(join(dir, 'slices', `s${z}.tif`), join(dir, 'odd-slices', `s${z}.tif`));
    await copyFile(join(dir, 'multipage.tif'), join(dir, 'odd-slices', 's7.tif')); // uint16 and 11 pages: another image
    const stack = await layerFor('stack', 'uint8', [37, 29, 11]);
    expect(await failOf(stack, { format: 'tiff', url: url('odd-slices') })).toMatch(/odd-slices\/s7\.tif is 37x29 uint16/);
    await copyFile(join(dir, 'slices', 's1.tif'), join(dir, 'odd-slices', 's01.tif'));
    await expect(planIngestSource({ layerPath: stack, source: { format: 'tiff', url: url('odd-slices') } })).rejects.toThrow(
      /s01\.tif and s1\.tif|s1\.tif and s01\.tif/,
    );
  });

  it('an HDF5 dataset that does not exist; a zarr chunk of the wrong size; an N5 block that is not gzip', async () => {
    const layer = await layerFor('h5', 'uint16', [37, 29, 11]);
    await expect(planIngestSource({ layerPath: layer, source: { format: 'hdf5', url: url('volume.h5'), dataset: '/volumes/nope' } })).rejects.toThrow(
      /volume\.h5 has no dataset \/volumes\/nope/,
    );
    // A zarr v3 chunk that inflates to half its bytes.
    await mkdir(join(dir, 'bad-v3.zarr'));
    await copyFile(join(dir, 'v3.zarr', 'zarr.json'), join(dir, 'bad-v3.zarr', 'zarr.json'));
    await mkdir(join(dir, 'bad-v3.zarr', 'c', '0', '0'), { recursive: true });
    await writeFile(join(dir, 'bad-v3.zarr', 'c', '0', '0', '0'), gzipSync(new Uint8Array(4 * 8 * 16)));
    const zarrLayer = await layerFor('zarr', 'uint16', [37, 29, 11]);
    expect(await failOf(zarrLayer, { format: 'zarr', url: url('bad-v3.zarr') })).toMatch(/bad-v3\.zarr/);
    // An N5 block whose body is not gzip.
    await mkdir(join(dir, 'bad.n5', 'raw', '0', '0'), { recursive: true });
    await copyFile(join(dir, 'volume.n5', 'raw', 'attributes.json'), join(dir, 'bad.n5', 'raw', 'attributes.json'));
    const header = Buffer.from([0, 0, 0, 3, 0, 0, 0, 16, 0, 0, 0, 16, 0, 0, 0, 4]);
    await writeFile(join(dir, 'bad.n5', 'raw', '0', '0', '0'), Buffer.concat([header, Buffer.from('not gzip')]));
    const n5Layer = await layerFor('n5', 'uint16', [37, 29, 11]);
    expect(await failOf(n5Layer, { format: 'n5', url: url('bad.n5'), dataset: 'raw' })).toMatch(/bad\.n5\/raw\/0\/0\/0: the block does not decompress/);
  });
});
