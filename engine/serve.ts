// A static file server with CORS for viewing file:// layers in Neuroglancer; serves `key.gz` as `key`
// with Content-Encoding: gzip, the way GCS serves gzip-encoded objects.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, Server } from 'node:http';
import { join, normalize, resolve, sep } from 'node:path';

async function isFile(path: string): Promise<boolean> {
  try { return (await stat(path)).isFile(); } catch { return false; }
}

export function serveDirectory(root: string, port: number, host = '127.0.0.1'): Promise<Server> {
  const base = resolve(root);
  const server = createServer(async (req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', '*');
    if (req.method === 'OPTIONS') { res.writeHead(204).end(); return; }
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405).end(); return; }
    const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const path = normalize(join(base, urlPath));
    if (path !== base && !path.startsWith(base + sep)) { res.writeHead(403).end(); return; }
    let file = path;
    if (!(await isFile(file))) {
      file = path + '.gz';
      if (!(await isFile(file))) { res.writeHead(404).end(); return; }
      res.setHeader('Content-Encoding', 'gzip');
    }
    res.setHeader('Content-Type', file.endsWith('info') ? 'application/json' : 'application/octet-stream');
    res.writeHead(200);
    if (req.method === 'HEAD') { res.end(); return; }
    createReadStream(file).pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok(server));
  });
}
