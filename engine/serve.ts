// A static file server with CORS for viewing file:// layers in Neuroglancer; serves `key.gz` as `key`
// with Content-Encoding: gzip, the way GCS serves gzip-encoded objects. It serves only files inside
// its root: a path that escapes it (by "..", by a symbolic link) is refused, and a request it cannot
// decode gets 400, never a crash.
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { join, normalize, resolve, sep } from 'node:path';
import { logEvent } from '../common/log.js';

async function isFile(path: string): Promise<boolean> {
  try { return (await stat(path)).isFile(); } catch { return false; }
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
  for (const [file, gzip] of [[path, false], [path + '.gz', true]] as const) {
    if (!(await isFile(file))) continue;
    // Symbolic links may point anywhere: follow them, then check again.
    if (!inside(await realpath(file))) return { status: 403 };
    return { file, gzip };
  }
  return { status: 404 };
}

async function handle(root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS');
  res.setHeader('Access-Control-Allow-Headers', '*');
  if (req.method === 'OPTIONS') { res.writeHead(204).end(); return; }
  if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405).end(); return; }
  const found = await resolveFile(root, req.url ?? '/');
  if ('status' in found) { res.writeHead(found.status).end(); return; }
  if (found.gzip) res.setHeader('Content-Encoding', 'gzip');
  res.setHeader('Content-Type', found.file.replace(/\.gz$/, '').endsWith('info') ? 'application/json' : 'application/octet-stream');
  res.writeHead(200);
  if (req.method === 'HEAD') { res.end(); return; }
  createReadStream(found.file).on('error', () => res.destroy()).pipe(res);
}

export async function serveDirectory(dir: string, port: number, host = '127.0.0.1'): Promise<Server> {
  const root = await realpath(resolve(dir));
  const server = createServer((req, res) => {
    handle(root, req, res).catch((e) => {
      logEvent('WARNING', 'request failed', { url: req.url, error: (e as Error).message });
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok(server));
  });
}
