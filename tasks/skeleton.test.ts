// Skeletons end to end: plan skeleton's stages on a segmentation on disk, every segment's skeleton
// read back by the independent readers (test/skeleton-reader.ts, test/sharded-reader.ts), tubes that
// cross task borders at several angles joined into one tree that matches the single-task skeleton.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Vec3 } from '../common/box.js';
import { allChunks, createInfo, scaleBounds } from '../precomputed/info.js';
import { Volume } from '../precomputed/volume.js';
import { runPlan } from '../queue/local/run.js';
import { skeletonize } from '../skeletons/teasar.js';
import { chunkFromShardFile, shardFileOf, SpecJson } from '../test/sharded-reader.js';
import { runDigest } from '../test/cli.js';
import { parseSwc, readSkeleton, ReadSkeleton } from '../test/skeleton-reader.js';
import { planSkeleton } from './plan/planners.js';
import { runTask } from './registry.js';

const SIZE: Vec3 = [96, 96, 48];
/** Tubes of radius 5 through the middle of the volume along a few directions (labels 1..4). */
const TUBES: [number, Vec3, Vec3][] = [
  [1, [4, 14, 24], [92, 22, 24]], // across x borders, nearly straight
  [2, [20, 4, 8], [70, 92, 40]], // diagonal in y and z
  [3, [88, 88, 6], [30, 10, 42]], // against every axis
  [4, [48.5, 48.5, 2], [48.5, 48.5, 46]], // along z, across the z faces
];
/** The distance from p to the segment a-b. */
function fromAxis(p: number[], a: Vec3, b: Vec3): number {
  const ab = b.map((v, d) => v - a[d]);
  const t = Math.max(0, Math.min(1, p.reduce((s, v, d) => s + (v - a[d]) * ab[d], 0) / ab.reduce((s, v) => s + v * v, 0)));
  return Math.hypot(...p.map((v, d) => v - (a[d] + t * ab[d])));
}
function label(x: number, y: number, z: number): number {
  for (const [l, a, b] of TUBES) if (fromAxis([x + 0.5, y + 0.5, z + 0.5], a, b) <= 5) return l;
  return 0;
}

async function skeletonized(opts: { shardBits?: number; gatherBlock?: number }): Promise<{ dir: string; labels: Uint32Array }> {
  const dir = await mkdtemp(join(tmpdir(), 'digest-skeletons-'));
  const info = createInfo({ type: 'segmentation', dataType: 'uint32', encoding: 'raw', size: SIZE, chunkSize: [32, 32, 16], resolution: [1, 1, 1], mips: 0 });
  const volume = await Volume.create(`file://${dir}`, info);
  const labels = new Uint32Array(SIZE[0] * SIZE[1] * SIZE[2]);
  for (let z = 0, i = 0; z < SIZE[2]; z++) for (let y = 0; y < SIZE[1]; y++) for (let x = 0; x < SIZE[0]; x++) labels[i++] = label(x, y, z);
  await volume.writeChunks(0, allChunks(info.scales[0]), labels, scaleBounds(info.scales[0]));
  // One chunk a task: 3 x 3 x 3 boxes, every tube across several of their faces.
  const plan = await planSkeleton({ layerPath: `file://${dir}`, block: 1, shardBits: opts.shardBits, dust: 50, gatherBlock: opts.gatherBlock ?? 0 });
  expect(plan.stages.map((s) => s.name)).toEqual(['skeletonize', ...(opts.gatherBlock ? ['skeleton gather'] : []), 'skeleton merge']);
  expect((await runPlan(plan, runTask, { concurrency: 2, progress: false })).dead).toEqual([]);
  return { dir, labels };
}

async function readBack(dir: string, id: number): Promise<ReadSkeleton> {
  const info = JSON.parse(await readFile(join(dir, 'skeletons', 'info'), 'utf8')) as { sharding?: SpecJson; vertex_attributes: [] };
  if (!info.sharding) return readSkeleton(new Uint8Array(await readFile(join(dir, 'skeletons', String(id)))), info);
  const shard = new Uint8Array(await readFile(join(dir, 'skeletons', shardFileOf(BigInt(id), info.sharding))));
  return readSkeleton(chunkFromShardFile(shard, BigInt(id), info.sharding)!, info);
}

const point = (s: { positions: Float32Array } | { vertices: Float32Array }, k: number): Vec3 => {
  const p = 'positions' in s ? s.positions : s.vertices;
  return [p[3 * k], p[3 * k + 1], p[3 * k + 2]];
};

/** The files under dir/skeletons but the Skeletonize tasks' intermediates, by path. */
async function skeletonFiles(dir: string): Promise<Map<string, string>> {
  const root = join(dir, 'skeletons');
  const files = (await readdir(root, { recursive: true, withFileTypes: true })).filter((f) => f.isFile());
  const out = new Map<string, string>();
  for (const f of files) {
    const path = relative(root, join(f.parentPath, f.name));
    if (!path.startsWith('forge'))
      out.set(
        path,
        createHash('sha256')
          .update(await readFile(join(root, path)))
          .digest('hex'),
      );
  }
  return out;
}

describe('skeletons', () => {
  it('a gathered plan (SkeletonGather between the stages) writes the same skeletons, byte for byte, sharded and unsharded', async () => {
    for (const shardBits of [undefined, 1]) {
      const direct = await skeletonFiles((await skeletonized({ shardBits })).dir);
      const gathered = await skeletonFiles((await skeletonized({ shardBits, gatherBlock: 2 })).dir);
      expect(direct.size).toBe(shardBits === undefined ? TUBES.length + 1 : 2 + 1); // the skeletons (or shards) and the info
      expect(gathered).toEqual(direct);
    }
  });

  for (const shardBits of [undefined, 1])
    it(`tubes across task borders join into one tree each, as the single-task skeleton (${shardBits === undefined ? 'unsharded' : 'sharded'})`, async () => {
      const { dir, labels } = await skeletonized({ shardBits });
      const info = JSON.parse(await readFile(join(dir, 'info'), 'utf8'));
      expect(info.skeletons).toBe('skeletons');
      const whole = skeletonize(labels, SIZE, [1, 1, 1], { scale: 4, const: 0, dust: 50, pdrfScale: 100_000, pdrfExponent: 8 });
      let worst = 0;
      for (const [id, a, b] of TUBES) {
        const s = await readBack(dir, id);
        const n = s.positions.length / 3;
        expect(s.attributes.get('radius')!.length).toBe(n);
        // One connected tree, no vertex twice (the seams' shared vertices counted once).
        const root = Array.from({ length: n }, (_, i) => i);
        const find = (i: number): number => (root[i] === i ? i : (root[i] = find(root[i])));
        for (let e = 0; e < s.edges.length; e += 2) root[find(s.edges[e])] = find(s.edges[e + 1]);
        expect(new Set(root.map((_, i) => find(i))).size, `tube ${id}: pieces`).toBe(1);
        expect(s.edges.length / 2, `tube ${id}: edges of a tree`).toBe(n - 1);
        expect(new Set(Array.from({ length: n }, (_, k) => point(s, k).join())).size, `tube ${id}: distinct vertices`).toBe(n);
        // Each vertex inside the tube; away from its ends, near the single-task skeleton.
        const single = whole.get(BigInt(id))!;
        const ends = [a, b];
        for (let k = 0; k < n; k++) {
          const p = point(s, k);
          expect(label(...(p.map(Math.floor) as Vec3)), `tube ${id} vertex ${p}`).toBe(id);
          if (ends.some((e) => Math.hypot(...p.map((v, d) => v - e[d])) < 10)) continue;
          // (Chebyshev distance: within one voxel means a neighbouring voxel, diagonals included.)
          let nearest = Infinity;
          for (let j = 0; j < single.vertices.length / 3; j++) nearest = Math.min(nearest, Math.max(...p.map((v, d) => Math.abs(v - point(single, j)[d]))));
          // Within a voxel; where another tube crosses this one (the first listed holds the voxels both
          // would), it is bitten, and its skeleton squeezes past through a passage a voxel or two thick:
          // there both skeletons go round by paths up to 2 voxels apart.
          const bitten = TUBES.some(([other, oa, ob]) => other !== id && fromAxis(p, oa, ob) < 12);
          expect(nearest, `tube ${id} vertex ${p}`).toBeLessThanOrEqual(bitten ? 2 : 1);
          worst = Math.max(worst, nearest);
        }
      }
      console.log(`skeletons across task borders: farthest vertex from the single-task skeleton ${worst.toFixed(2)} voxels`);
      // digest skeleton export --format swc: each tube's SWC parsed back is the same tree (positions in nm, radius, edges).
      const out = join(dir, 'swc');
      const ran = await runDigest(['skeleton', 'export', '--layer', dir, '--ids', TUBES.map(([id]) => id).join(','), '--format', 'swc', '--out', out]);
      expect(ran.stderr).toBe('');
      expect(ran.code).toBe(0);
      for (const [id] of TUBES) {
        const s = await readBack(dir, id);
        const nodes = parseSwc(await readFile(join(out, `${id}.swc`), 'utf8'));
        const key = (p: number[]) => p.map((v) => v.toFixed(3)).join(' ');
        const byPosition = new Map(Array.from({ length: s.positions.length / 3 }, (_, k) => [key(point(s, k)), k]));
        expect(nodes.length).toBe(byPosition.size);
        const of = new Map(nodes.map((n) => [n.id, n]));
        const edges = new Set<string>();
        for (let e = 0; e < s.edges.length; e += 2) edges.add([s.edges[e], s.edges[e + 1]].sort((x, y) => x - y).join());
        for (const n of nodes) {
          const k = byPosition.get(key([n.x, n.y, n.z]))!;
          expect(k, `tube ${id} node ${n.id}`).toBeDefined();
          expect(n.radius).toBeCloseTo(s.attributes.get('radius')![k], 3);
          if (n.parent === -1) continue;
          const parent = of.get(n.parent)!;
          expect(edges.has([k, byPosition.get(key([parent.x, parent.y, parent.z]))!].sort((x, y) => x - y).join()), `tube ${id} edge of node ${n.id}`).toBe(
            true,
          );
        }
        expect(nodes.filter((n) => n.parent === -1).length).toBe(1);
      }
      const missing = await runDigest(['skeleton', 'export', '--layer', dir, '--ids', '1,999', '--out', out]);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toMatch(/no skeleton for segment\(s\) 999/);
    });
});
