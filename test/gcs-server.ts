// A small in-memory server speaking the part of the Google Cloud Storage JSON API that
// @google-cloud/storage uses for our store: multipart and media uploads, compose, object metadata, media
// downloads (with decompressive transcoding of gzip-encoded objects, as GCS does), listing with
// prefix and pages, and deletes. No offline GCS emulator installs here from the npm registry or
// Debian, so tests run the real client against this server through STORAGE_EMULATOR_HOST.
// Like GCS, downloads carry `x-goog-hash` (crc32c and md5 of the stored bytes) and
// `x-goog-stored-content-encoding`, so the client's integrity checks run as they do against GCS.
// `failNext` makes the next N requests answer 503, to exercise retries; `hang` makes matching requests
// never answer, to exercise timeouts; `latencyMs` delays every answer, as cloud storage would.
import { createHash } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** Hashes are taken when the object is written, as GCS does: bytes changed later fail them. */
interface StoredObject {
  data: Buffer;
  contentType: string;
  contentEncoding?: string;
  generation: number;
  updated: string;
  md5: string;
  crc32c: string;
}

export class GcsTestServer {
  readonly buckets = new Map<string, Map<string, StoredObject>>();
  readonly log: string[] = [];
  failNext = 0;
  /** Requests (method and path) for which this returns true get no answer at all. */
  hang: (request: string) => boolean = () => false;
  /** Range requests served (206), for tests of ranged reads. */
  ranges = 0;
  /** Compose requests served. */
  composed = 0;
  /** Added to every answer, ms: the latency of real cloud storage, for benchmarks. */
  latencyMs = 0;
  private server?: Server;
  private generation = 1;

  async start(): Promise<string> {
    this.server = createServer((req, res) => this.handle(req, res).catch((e) => this.json(res, 500, { error: { code: 500, message: String(e) } })));
    await new Promise<void>((ok) => this.server!.listen(0, '127.0.0.1', ok));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections(); // hung requests included
    await new Promise<void>((ok) => this.server?.close(() => ok()) ?? ok());
  }

  private bucket(name: string): Map<string, StoredObject> {
    if (!this.buckets.has(name)) this.buckets.set(name, new Map());
    return this.buckets.get(name)!;
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  }

  private resource(bucket: string, name: string, o: StoredObject) {
    return {
      kind: 'storage#object',
      id: `${bucket}/${name}/${o.generation}`,
      bucket,
      name,
      size: String(o.data.length),
      contentType: o.contentType,
      contentEncoding: o.contentEncoding,
      generation: String(o.generation),
      metageneration: '1',
      updated: o.updated,
      timeCreated: o.updated,
      md5Hash: o.md5,
      crc32c: o.crc32c,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const body = await new Promise<Buffer>((ok) => {
      const parts: Buffer[] = [];
      req.on('data', (c) => parts.push(c));
      req.on('end', () => ok(Buffer.concat(parts)));
    });
    this.log.push(`${req.method} ${url.pathname}${url.search}`);
    if (this.hang(`${req.method} ${url.pathname}`)) return; // the socket stays open, unanswered
    if (this.failNext > 0) {
      this.failNext--;
      this.json(res, 503, { error: { code: 503, message: 'injected failure' } });
      return;
    }
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    let m: RegExpExecArray | null;
    if (req.method === 'POST' && (m = /^\/upload(?:\/storage\/v1)?\/b\/([^/]+)\/o$/.exec(url.pathname))) {
      return this.upload(req, res, url, decodeURIComponent(m[1]), body);
    }
    // The client puts /storage/v1 in front for the real service but not for a custom endpoint.
    if (req.method === 'POST' && (m = /^(?:\/storage\/v1)?\/b\/([^/]+)\/o\/(.+)\/compose$/.exec(url.pathname))) {
      return this.compose(res, decodeURIComponent(m[1]), decodeURIComponent(m[2]), JSON.parse(body.toString('utf8')));
    }
    if ((m = /^(?:\/download)?(?:\/storage\/v1)?\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname))) {
      const bucket = decodeURIComponent(m[1]),
        name = decodeURIComponent(m[2]);
      const o = this.bucket(bucket).get(name);
      if (req.method === 'DELETE') {
        if (!o) return this.json(res, 404, { error: { code: 404, message: 'No such object' } });
        this.bucket(bucket).delete(name);
        res.writeHead(204).end();
        return;
      }
      if (!o) return this.json(res, 404, { error: { code: 404, message: `No such object: ${bucket}/${name}` } });
      if (url.searchParams.get('alt') === 'media') return this.media(req, res, o);
      return this.json(res, 200, this.resource(bucket, name, o));
    }
    if (req.method === 'GET' && (m = /^(?:\/storage\/v1)?\/b\/([^/]+)\/o$/.exec(url.pathname))) {
      const bucket = decodeURIComponent(m[1]);
      const prefix = url.searchParams.get('prefix') ?? '';
      const max = Number(url.searchParams.get('maxResults') ?? 1000);
      const start = url.searchParams.get('pageToken') ?? '';
      const names = [...this.bucket(bucket).keys()].filter((n) => n.startsWith(prefix) && n > start).sort();
      const page = names.slice(0, max);
      return this.json(res, 200, {
        kind: 'storage#objects',
        items: page.map((n) => this.resource(bucket, n, this.bucket(bucket).get(n)!)),
        ...(names.length > max ? { nextPageToken: page[page.length - 1] } : {}),
      });
    }
    this.json(res, 501, { error: { code: 501, message: `not implemented: ${req.method} ${url.pathname}` } });
  }

  /**
   * Media download as GCS serves it: gzip-encoded objects go out compressed to clients that accept
   * gzip (else inflated: decompressive transcoding); hashes are those of the stored bytes; a Range
   * request gets 206 with the stored bytes of that range.
   */
  private media(req: IncomingMessage, res: ServerResponse, o: StoredObject): void {
    const stored = { 'Content-Type': o.contentType, 'x-goog-stored-content-encoding': o.contentEncoding ?? 'identity' };
    const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
    if (range) {
      const start = Number(range[1]),
        end = range[2] ? Math.min(Number(range[2]), o.data.length - 1) : o.data.length - 1;
      if (start >= o.data.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${o.data.length}` }).end();
        return;
      }
      this.ranges++;
      res.writeHead(206, { ...stored, 'Content-Range': `bytes ${start}-${end}/${o.data.length}` }).end(o.data.subarray(start, end + 1));
      return;
    }
    const hashes = `crc32c=${o.crc32c},md5=${o.md5}`;
    const acceptsGzip = /gzip/.test(String(req.headers['accept-encoding'] ?? ''));
    if (o.contentEncoding === 'gzip' && !acceptsGzip) {
      res.writeHead(200, { ...stored, 'x-goog-hash': hashes }).end(gunzipSync(o.data));
    } else {
      res.writeHead(200, { ...stored, ...(o.contentEncoding ? { 'Content-Encoding': o.contentEncoding } : {}), 'x-goog-hash': hashes }).end(o.data);
    }
  }

  /** Compose as GCS does it: at most 32 sources of one bucket, concatenated into a new object (hashes of the whole). */
  private compose(
    res: ServerResponse,
    bucket: string,
    name: string,
    request: { sourceObjects?: { name: string }[]; destination?: { contentType?: string } },
  ): void {
    const sources = request.sourceObjects ?? [];
    if (sources.length === 0 || sources.length > 32) return this.json(res, 400, { error: { code: 400, message: `compose of ${sources.length} sources` } });
    const parts = sources.map((s) => this.bucket(bucket).get(s.name));
    const missing = sources.find((_, i) => !parts[i]);
    if (missing) return this.json(res, 404, { error: { code: 404, message: `No such object: ${bucket}/${missing.name}` } });
    this.composed++;
    this.store(res, bucket, name, Buffer.concat(parts.map((o) => o!.data)), request.destination?.contentType ?? 'application/octet-stream');
  }

  private store(res: ServerResponse, bucket: string, name: string, data: Buffer, contentType: string, contentEncoding?: string): void {
    const o: StoredObject = {
      data,
      contentType,
      contentEncoding,
      generation: this.generation++,
      updated: new Date().toISOString(),
      md5: createHash('md5').update(data).digest('base64'),
      crc32c: crc32cBase64(data),
    };
    this.bucket(bucket).set(name, o);
    this.json(res, 200, this.resource(bucket, name, o));
  }

  private upload(req: IncomingMessage, res: ServerResponse, url: URL, bucket: string, body: Buffer): void {
    const type = String(req.headers['content-type'] ?? '');
    let metadata: Record<string, any> = {};
    let data = body;
    if (url.searchParams.get('uploadType') === 'multipart') {
      const boundary = /boundary="?([^";]+)"?/.exec(type)?.[1];
      if (!boundary) return this.json(res, 400, { error: { code: 400, message: 'multipart upload without boundary' } });
      const parts = splitMultipart(body, boundary);
      metadata = JSON.parse(parts[0].body.toString('utf8'));
      data = parts[1].body;
      metadata.contentType ??= parts[1].headers['content-type'];
    } else if (url.searchParams.get('uploadType') !== 'media') {
      return this.json(res, 501, { error: { code: 501, message: `uploadType ${url.searchParams.get('uploadType')} not implemented` } });
    }
    const name = metadata.name ?? url.searchParams.get('name');
    if (!name) return this.json(res, 400, { error: { code: 400, message: 'object name missing' } });
    this.store(res, bucket, name, data, metadata.contentType ?? 'application/octet-stream', metadata.contentEncoding);
  }
}

function splitMultipart(body: Buffer, boundary: string): { headers: Record<string, string>; body: Buffer }[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: { headers: Record<string, string>; body: Buffer }[] = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const next = body.indexOf(delimiter, at + delimiter.length);
    if (next < 0) break;
    const chunk = body.subarray(at + delimiter.length + 2, next - 2); // skip CRLF after delimiter and before the next
    const split = chunk.indexOf('\r\n\r\n');
    const headers: Record<string, string> = {};
    for (const line of chunk.subarray(0, split).toString('utf8').split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    parts.push({ headers, body: chunk.subarray(split + 4) });
    at = next;
  }
  return parts;
}

// CRC-32C (Castagnoli), reflected polynomial 0x82f63b78, as GCS reports it: big-endian, base64.
const CRC32C_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  return c >>> 0;
});

function crc32cBase64(data: Uint8Array): string {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC32C_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((c ^ 0xffffffff) >>> 0);
  return out.toString('base64');
}
