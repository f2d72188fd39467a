import { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { serveHealth } from './health.js';

describe('health endpoints', () => {
  it('keep liveness at 200 while draining and take readiness to 503', async () => {
    let draining = false;
    const server = await serveHealth(0, () => ({ ok: !draining, running: 3 }));
    const url = (path: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
    try {
      const status = async (path: string) => (await fetch(url(path))).status;
      expect([await status('/healthz'), await status('/readyz'), await status('/metrics')]).toEqual([200, 200, 404]);
      draining = true;
      expect([await status('/healthz'), await status('/readyz')]).toEqual([200, 503]);
      expect(await (await fetch(url('/healthz'))).json()).toEqual({ status: 'draining', ok: false, running: 3 });
    } finally {
      server.close();
    }
  });
});
