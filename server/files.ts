// A static file server with CORS for viewing file:// (and s3://) layers in Neuroglancer; serves `key.gz` as `key`
// with Content-Encoding: gzip, the way GCS serves gzip-encoded objects. It serves only files inside
// its root: a path that escapes it (by "..", by a symbolic link) is refused, and a request it cannot
// decode gets 400, never a crash. Byte ranges are answered (206) for objects stored plain.
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { logEvent } from '../common/log.js';
import { contentTypeOf } from '../storage/copy.js';
import { checkKey, Store } from '../storage/store.js';

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The file a request names, or the status to answer with instead. */
async function resolveFile(root: string, rawUrl: string): Promise<{ file: string; gzip: boolean } | { status: number }> {
  let urlPath: string;
  try {
    urlPath = decodeURIComponent(new URL(rawUrl, 'http://x').pathname);
  } catch {
    return { status: 400 };
  }
  if (urlPath.includes('\0')) return { status: 400 };
  const path = normalize(join(root, urlPath));
  const inside = (p: string) => p === root || p.startsWith(root + sep);
  if (!inside(path)) return { status: 403 };
  for (const [file, gzip] of [
    [path, false],
    [path + '.gz', true],
  ] as const) {
    if (!(await isFile(file))) continue;
    // Symbolic links may point anywhere: follow them, then check again.
    if (!inside(await realpath(file))) return { status: 403 };
    return { file, gzip };
  }
  return { status: 404 };
}

/** A single `bytes=a-b`, `bytes=a-` or `bytes=-n` range over `size` bytes (inclusive ends); others: whole file. */
export function byteRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number, end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

/** Content types for the viewer's own files; layer objects as a bucket serves them. */
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
};

/**
 * Who may read what a server serves. `allowOrigin`: the Access-Control-Allow-Origin answered ('*':
 * any web page's scripts; null: none, only pages this server serves itself). `allowHosts`: the
 * names a request's Host header may give besides the loopback ones, so that a page on another site
 * cannot reach this server by pointing its own name at 127.0.0.1 (DNS rebinding).
 */
export interface Access {
  allowOrigin: string | null;
  allowHosts: string[];
}

export const SERVE_ACCESS: Access = { allowOrigin: '*', allowHosts: [] };

const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

/** The host name of a Host header ("127.0.0.1:1337" -> "127.0.0.1", "[::1]:80" -> "[::1]"). */
function hostName(header: string | undefined): string {
  const h = (header ?? '').trim().toLowerCase();
  return h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.replace(/:\d*$/, '');
}

/**
 * The checks every request passes (Host, CORS headers, method): false when they answered it
 * already (403, 204 for a preflight, 405).
 */
function admit(req: IncomingMessage, res: ServerResponse, access: Access): boolean {
  const host = hostName(req.headers.host);
  if (!LOOPBACK_HOSTS.includes(host) && !access.allowHosts.includes(host)) {
    res.writeHead(403).end();
    return false;
  }
  if (access.allowOrigin !== null) {
    res.setHeader('Access-Control-Allow-Origin', access.allowOrigin);
    if (access.allowOrigin !== '*') res.setHeader('Vary', 'Origin');
  }
  res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS');
  res.setHeader('Access-Control-Allow-Headers', '*');
  if (req.method === 'OPTIONS') {
    res.writeHead(204).end();
    return false;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405).end();
    return false;
  }
  return true;
}

/** Answers `req` with the file under `root` that `url` names (CORS, HEAD, key.gz as gzip). */
export async function serveFile(root: string, url: string, req: IncomingMessage, res: ServerResponse, access: Access = SERVE_ACCESS): Promise<void> {
  if (!admit(req, res, access)) return;
  const found = await resolveFile(root, url);
  if ('status' in found) {
    res.writeHead(found.status).end();
    return;
  }
  if (found.gzip) res.setHeader('Content-Encoding', 'gzip');
  const plain = found.file.replace(/\.gz$/, '');
  res.setHeader('Content-Type', TYPES[extname(plain)] ?? contentTypeOf(plain));
  // Byte ranges (sharded layers are read by range), as a bucket answers them; not inside gzip.
  const size = (await stat(found.file)).size;
  const range = found.gzip ? undefined : byteRange(req.headers.range, size);
  if (range === 'unsatisfiable') {
    res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
    return;
  }
  res.setHeader('Accept-Ranges', found.gzip ? 'none' : 'bytes');
  if (range) {
    res.writeHead(206, { 'Content-Range': `bytes ${range.start}-${range.end}/${size}`, 'Content-Length': range.end - range.start + 1 });
  } else {
    res.writeHead(200, { 'Content-Length': size });
  }
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(found.file, range ?? {})
    .on('error', () => res.destroy())
    .pipe(res);
}

/**
 * Answers `req` with the object `path` names in `store` (a layer on s3:// read with this machine's
 * credentials): whole objects as stored (gzip ones with Content-Encoding: gzip), ranges of the
 * plain ones (shards).
 */
export async function serveObject(store: Store, path: string, req: IncomingMessage, res: ServerResponse, access: Access): Promise<void> {
  if (!admit(req, res, access)) return;
  let key: string;
  try {
    key = checkKey(decodeURIComponent(path.split(/[?#]/)[0]).replace(/^\/+/, ''));
  } catch {
    res.writeHead(path === '/' || path === '' ? 404 : 400).end();
    return;
  }
  res.setHeader('Content-Type', contentTypeOf(key));
  if (req.headers.range) {
    const size = await store.size(key);
    if (size === null) return void res.writeHead(404).end();
    const range = byteRange(req.headers.range, size);
    if (range === 'unsatisfiable') return void res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
    if (range) {
      const body = req.method === 'HEAD' ? undefined : await store.getRange(key, range.start, range.end - range.start + 1);
      res.writeHead(206, {
        'Content-Range': `bytes ${range.start}-${range.end}/${size}`,
        'Content-Length': range.end - range.start + 1,
        'Accept-Ranges': 'bytes',
      });
      return void res.end(body);
    }
  }
  const stored = await store.getStored(key);
  if (!stored) return void res.writeHead(404).end();
  res.writeHead(200, { 'Content-Length': stored.body.length, ...(stored.gzip ? { 'Content-Encoding': 'gzip' } : {}) });
  res.end(req.method === 'HEAD' ? undefined : stored.body);
}

/** What a request URL names: a file under a directory, or an object in a store. */
export type Route = { root: string; path: string } | { store: Store; path: string };

/**
 * A server of files on `host`:`port` (0: any free port): `route` says which root (or store) and path
 * a request URL names (a URL it cannot decode gets 400); a request that fails is logged and answered 500.
 */
export function serveFiles(route: (url: string) => Route, port: number, host = '127.0.0.1', access: Access = SERVE_ACCESS): Promise<Server> {
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    let target: Route;
    try {
      target = route(url);
    } catch {
      res.writeHead(400).end();
      return;
    }
    const answer = 'store' in target ? serveObject(target.store, target.path, req, res, access) : serveFile(target.root, target.path, req, res, access);
    answer.catch((e) => {
      logEvent('WARNING', 'request failed', { url, error: (e as Error).message });
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok(server));
  });
}

export async function serveDirectory(dir: string, port: number, host = '127.0.0.1', access: Access = SERVE_ACCESS): Promise<Server> {
  const root = await realpath(resolve(dir));
  return serveFiles((url) => ({ root, path: url }), port, host, access);
}
