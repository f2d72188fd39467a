// An HTTP proxy that injects storage faults between a client and a real server (moto's S3 server):
// throttling (503 SlowDown), server errors (500), connections dropped before or after the server
// acted, a silent server (stall), a body cut short, a body with one byte flipped. `fault` decides
// per request; requests it leaves alone pass through unchanged.
import { createServer, IncomingMessage, request, Server, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { AddressInfo } from 'node:net';

export type Fault =
  /** 503 with S3's SlowDown error. */
  | 'slowdown'
  /** 500 with S3's InternalError. */
  | 'internal'
  /** 400 with S3's BadDigest: what S3 answers an upload whose bytes do not match their checksum. */
  | 'bad-digest'
  /** The connection closed before the request reached the server. */
  | 'drop'
  /** The server acted on the request, then the connection closed before its answer. */
  | 'lost-answer'
  /** Nothing answered: the connection stays open and silent. */
  | 'stall'
  /** The answer's headers promise the whole body; half of it comes, then the connection closes. */
  | 'truncate'
  /** The answer's body with one byte flipped. */
  | 'corrupt'
  /** The request's body with one byte flipped on its way to the server. */
  | 'corrupt-upload';

export interface FaultRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  headers: IncomingMessage['headers'];
}

export interface FaultProxy {
  endpoint: string;
  /** The fault for a request, if any (set freely between requests). */
  fault: (r: FaultRequest) => Fault | undefined;
  /** Faults injected so far, as `fault method url`. */
  injected: string[];
  /** Requests seen so far. */
  requests: number;
  stop(): void;
}

const ERRORS: Record<string, [number, string, string]> = {
  slowdown: [503, 'SlowDown', 'Please reduce your request rate.'],
  internal: [500, 'InternalError', 'We encountered an internal error. Please try again.'],
  'bad-digest': [400, 'BadDigest', 'The Content-MD5 or checksum value you specified did not match what was received.'],
};

const s3Error = (code: string, message: string) => `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of stream) parts.push(p as Buffer);
  return Buffer.concat(parts);
}

/** Sends `req` with `body` on to `target` and gives back its answer, read whole. */
function forward(target: URL, req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
  return new Promise((ok, fail) => {
    const out = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (res) => {
      readAll(res).then((b) => ok({ status: res.statusCode ?? 502, headers: res.headers, body: b }), fail);
    });
    out.on('error', fail);
    out.end(body);
  });
}

export async function faultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  const proxy: FaultProxy = { endpoint: '', fault: () => undefined, injected: [], requests: 0, stop: () => {} };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readAll(req);
    proxy.requests++;
    const fault = proxy.fault({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers });
    if (fault) proxy.injected.push(`${fault} ${req.method} ${req.url}`);
    const error = ERRORS[fault ?? ''];
    if (error) {
      const [status, code, message] = error;
      res.writeHead(status, { 'Content-Type': 'application/xml' }).end(s3Error(code, message));
      return;
    }
    if (fault === 'drop') return void req.socket.destroy();
    if (fault === 'stall') return; // the socket is closed by the client's timeout, or by stop()
    if (fault === 'corrupt-upload' && body.length > 0) body[body.length >> 1] ^= 0x5a;
    const answer = await forward(upstream, req, body);
    if (fault === 'lost-answer') return void req.socket.destroy();
    let sent = answer.body;
    if (fault === 'corrupt' && sent.length > 0) {
      sent = Buffer.from(sent);
      sent[sent.length >> 1] ^= 0x5a;
    }
    const headers = { ...answer.headers };
    delete headers['transfer-encoding'];
    if (req.method !== 'HEAD') headers['content-length'] = String(answer.body.length); // a HEAD's tells the object's size
    res.writeHead(answer.status, headers);
    if (fault === 'truncate' && sent.length > 1) {
      res.write(sent.subarray(0, sent.length >> 1), () => res.socket?.destroy());
      return;
    }
    res.end(req.method === 'HEAD' ? undefined : sent);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.stop = () => {
    for (const s of sockets) s.destroy();
    server.close();
  };
  return proxy;
}
