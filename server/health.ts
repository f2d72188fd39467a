// Kubernetes probes. /healthz (liveness): 200 while the process serves at all, draining included,
// so a draining pod is not killed before its grace period ends. /readyz (readiness): 200 while it
// takes work, 503 once it drains. Both carry the worker's counters.
import { createServer, Server } from 'node:http';

export function serveHealth(port: number, state: () => { ok: boolean } & Record<string, unknown>): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/healthz' && req.url !== '/readyz') {
      res.writeHead(404).end();
      return;
    }
    const s = state();
    const code = req.url === '/readyz' && !s.ok ? 503 : 200;
    res.writeHead(code, { 'Content-Type': 'application/json' }).end(JSON.stringify({ status: s.ok ? 'ok' : 'draining', ...s }));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}
