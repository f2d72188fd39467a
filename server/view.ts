// `digest view`: one local server for the bundled Neuroglancer (dist/viewer, built by npm run build)
// and file:// layers, and the URL of a viewer state that already shows every layer: images,
// segmentations with a few segments selected (their meshes visible), 3-channel affinities as RGB.
// Nothing is fetched from the internet; s3:// layers are served through this server, gs:// and https://
// ones are read by the browser from where they are.
import { existsSync } from 'node:fs';
import { readdir, realpath } from 'node:fs/promises';
import { Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import { builtFile } from '../common/built.js';
import { CorruptData, InvalidInput } from '../common/errors.js';
import * as v from 'valibot';
import { ShardedKvStore } from '../precomputed/sharded-store.js';
import { shardingSchema } from '../precomputed/sharding.js';
import { Volume } from '../precomputed/volume.js';
import { openStore } from '../storage/open.js';
import { MAX_JSON_BYTES, Store } from '../storage/store.js';
import { Access, Route, serveFiles } from './files.js';

/** The bundled viewer (dist/viewer). */
export function viewerDir(): string {
  return dirname(builtFile('viewer/index.html'));
}

export interface ViewLayer {
  name: string;
  /** Where the browser reads it: an http URL on this server, gs:// or an https:// URL. */
  source: string;
  type: 'image' | 'segmentation';
  channels: number;
  /** Segments shown (their meshes) in a segmentation layer. */
  segments: string[];
}

/**
 * A few segment ids with meshes, else none: legacy manifests (`<id>:0`), multi-resolution manifests
 * (`<id>.index`), or the ids of the first shards of a sharded multi-resolution mesh.
 */
async function someSegments(layerUrl: string, meshDir: string | undefined, propertiesDir: unknown, count = 3): Promise<string[]> {
  if (!meshDir) return [];
  const store = openStore(layerUrl);
  const largest = typeof propertiesDir === 'string' ? await largestSegments(store, propertiesDir, count) : [];
  if (largest.length > 0) return largest;
  const ids: bigint[] = [];
  const info = await store.get(`${meshDir}/info`, { maxBytes: 64 << 10 });
  const sharding = info && (JSON.parse(new TextDecoder().decode(info)) as { sharding?: unknown }).sharding;
  if (sharding) {
    const spec = v.parse(shardingSchema, sharding);
    const shards = new ShardedKvStore(store, meshDir, spec, 1 << 24);
    for (let shard = 0; shard < 2 ** spec.shard_bits && ids.length < 1000; shard++) for (const id of await shards.ids(shard)) ids.push(id);
  } else if (/^https?:\/\//.test(layerUrl))
    return []; // a web server cannot be listed: only segment_properties name segments
  else
    for await (const page of store.listPages(`${meshDir}/`)) {
      for (const key of page) {
        const m = /\/(\d+)(:0|\.index)$/.exec(key);
        if (m) ids.push(BigInt(m[1]));
      }
      if (ids.length >= 1000) break;
    }
  return ids
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, count)
    .map(String);
}

/** The `count` largest segments by segment_properties' "voxels" (as MeshMerge counted them), if any. */
async function largestSegments(store: Store, dir: string, count: number): Promise<string[]> {
  const bytes = await store.get(`${dir.replace(/\/+$/, '')}/info`, { maxBytes: MAX_JSON_BYTES });
  if (!bytes) return [];
  let ids: unknown, voxels: unknown;
  try {
    const inline = JSON.parse(new TextDecoder().decode(bytes)).inline;
    ids = inline?.ids;
    voxels = inline?.properties?.find((p: { id?: string }) => p.id === 'voxels')?.values;
  } catch (e) {
    throw new CorruptData(`${store.url}/${dir}/info: not JSON`, { cause: e });
  }
  if (!Array.isArray(ids) || !Array.isArray(voxels) || ids.length !== voxels.length) return [];
  return ids
    .map((id, i) => ({ id: String(id), n: Number(voxels[i]) }))
    .sort((a, b) => b.n - a.n)
    .slice(0, count)
    .map((s) => s.id);
}

/** One layer's description for the viewer state, read from its info. */
export async function describeLayer(layerUrl: string, name: string, source: string): Promise<ViewLayer> {
  const { info } = await Volume.open(layerUrl);
  return {
    name,
    source,
    type: info.type,
    channels: info.num_channels,
    segments: info.type === 'segmentation' ? await someSegments(layerUrl, info.mesh, info.segment_properties) : [],
  };
}

/** Layers under a directory: the directory itself if it holds an info file, else its children that do. */
export async function findLayers(dir: string): Promise<string[]> {
  if (existsSync(join(dir, 'info'))) return [dir];
  const entries = await readdir(dir, { withFileTypes: true });
  // A linked layer folder counts too (it is served from where the link leads).
  const layers = entries
    .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && existsSync(join(dir, e.name, 'info')))
    .map((e) => join(dir, e.name))
    .sort();
  if (layers.length === 0) throw new InvalidInput(`${dir}: no precomputed layer here (no info file in it or in its subdirectories)`);
  return layers;
}

/**
 * The segmentation a newcomer should see: an agglomeration (`segmentation_<t>`), else one named
 * `segmentation`, else the first; the others are listed but hidden (tiles of a watershed drawn over
 * the final segments look like a rendering bug).
 */
function shownSegmentation(layers: ViewLayer[]): ViewLayer | undefined {
  const segmentations = layers.filter((l) => l.type === 'segmentation');
  return segmentations.find((l) => /^segmentation_/.test(l.name)) ?? segmentations.find((l) => l.name === 'segmentation') ?? segmentations[0];
}

/** The 3D view turned 40 degrees about (1, 1, 0), so it looks at the meshes, not edge-on at a section. */
const TILTED = [0.2418, 0.2418, 0, 0.9397];

/**
 * The Neuroglancer state showing `layers`: images first, then segmentations (one visible, with its
 * largest segments selected), 4-panel layout with the 3D panel tilted and no sections in it, so
 * the selected segments' meshes are in view.
 */
export function viewerState(layers: ViewLayer[]): Record<string, unknown> {
  const order = (l: ViewLayer) => (l.type === 'image' && l.channels === 1 ? 0 : l.type === 'segmentation' ? 1 : 2);
  const sorted = [...layers].sort((a, b) => order(a) - order(b));
  const shown = shownSegmentation(layers);
  return {
    layers: sorted.map((l) => {
      if (l.type === 'segmentation')
        return { type: 'segmentation', source: `precomputed://${l.source}`, name: l.name, segments: l.segments, ...(l === shown ? {} : { visible: false }) };
      if (l.channels === 3) {
        // Affinities (x, y, z) as red, green, blue.
        const shader =
          '#uicontrol invlerp normalized\nvoid main() { emitRGB(vec3(toNormalized(getDataValue(0)), toNormalized(getDataValue(1)), toNormalized(getDataValue(2)))); }';
        return { type: 'image', source: `precomputed://${l.source}`, name: l.name, shader, visible: false };
      }
      return { type: 'image', source: `precomputed://${l.source}`, name: l.name };
    }),
    selectedLayer: { layer: shown?.name ?? sorted[0]?.name, visible: false },
    layout: '4panel',
    showSlices: false,
    projectionOrientation: TILTED,
  };
}

export function stateUrl(base: string, state: Record<string, unknown>): string {
  return `${base}/#!${encodeURIComponent(JSON.stringify(state))}`;
}

export interface ViewServer {
  server: Server;
  url: string;
  port: number;
  layers: ViewLayer[];
}

/**
 * Serves the viewer at / and the file:// and s3:// layers at /layers/<name>/, and puts gs:// and
 * http(s):// layers in the state by their own URLs, on 127.0.0.1:`port` (0: any free port).
 */
/** The viewer reads its layers from its own origin: no other page's scripts need to. */
export const VIEW_ACCESS: Access = { allowOrigin: null, allowHosts: [] };

export async function serveView(sources: string[], port: number, access: Access = VIEW_ACCESS): Promise<ViewServer> {
  const viewer = viewerDir();
  // Served here: file:// layers from disk, s3:// ones through the s3 store (this machine's
  // credentials and --s3-endpoint: a browser can read neither a private bucket nor a MinIO). The
  // browser reads gs:// and http(s):// layers by their own URLs.
  const served: { name: string; url: string; route: (path: string) => Route }[] = [];
  const remote: string[] = [];
  for (const s of sources) {
    const url = s.replace(/\/+$/, '');
    if (/^(gs|https?):\/\//.test(url)) remote.push(url);
    else if (/^s3:\/\//.test(url)) {
      const store = openStore(url);
      served.push({ name: basename(url), url, route: (path) => ({ store, path }) });
    } else
      for (const path of await findLayers(resolve(url.replace(/^file:\/\//, '')))) {
        const root = await realpath(path);
        served.push({ name: basename(path), url: `file://${root}`, route: (p) => ({ root, path: p }) });
      }
  }
  const byName = new Map<string, (path: string) => Route>();
  for (const l of served) {
    if (byName.has(l.name)) throw new InvalidInput(`two layers are named "${l.name}": view them separately`);
    byName.set(l.name, l.route);
  }
  const server = await serveFiles(
    (url) => {
      const m = /^\/layers\/([^/?#]+)(\/[^?#]*)?/.exec(url);
      const layer = m ? byName.get(decodeURIComponent(m[1])) : undefined;
      if (layer) return layer(m![2] ?? '/');
      return { root: viewer, path: url === '/' || url.startsWith('/#') || url.startsWith('/?') ? '/index.html' : url };
    },
    port,
    '127.0.0.1',
    access,
  );
  const actual = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${actual}`;
  const layers = [
    ...(await Promise.all(served.map((l) => describeLayer(l.url, l.name, `${base}/layers/${encodeURIComponent(l.name)}`)))),
    ...(await Promise.all(remote.map((r) => describeLayer(r, basename(r), r)))),
  ];
  return { server, url: stateUrl(base, viewerState(layers)), port: actual, layers };
}
