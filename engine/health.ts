// /healthz for Kubernetes probes: 200 with the worker's counters while it takes work, 503 once it
// drains (so a draining pod is not sent anything new and is not restarted for it either way).
import { createServer, Server } from 'node:http';

export function serveHealth(port: number, state: () => { ok: boolean } & Record<string, unknown>): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/healthz') { res.writeHead(404).end(); return; }
    const s = state();
    res.writeHead(s.ok ? 200 : 503, { 'Content-Type': 'application/json' }).end(JSON.stringify({ status: s.ok ? 'ok' : 'draining', ...s }));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}
