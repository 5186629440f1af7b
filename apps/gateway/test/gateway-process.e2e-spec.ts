import { get } from 'node:http';
import { GatewayProcess, runGatewayToExit } from './support/gateway-process';
import { writeConfig } from './support/test-gateway';
import { TestUpstream } from './support/test-upstream';

/** The gateway as its own process (main.ts through ts-node), the way it runs in production. */
describe('gateway: as a process', () => {
  it('should stop with exit code 1 and name the bad field', () => {
    const config = writeConfig({
      services: [{ name: 'a', basePath: '/a', targets: ['http://127.0.0.1:1'], retries: 3 }],
    });
    try {
      const run = runGatewayToExit({ GATEWAY_CONFIG: config.file });
      expect(run.status).toBe(1);
      expect(run.stderr + run.stdout).toContain('services[0].retries: unknown key');
    } finally {
      config.remove();
    }
  }, 70_000);

  describe('access log', () => {
    const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
    const BURST = 400;
    const LONG_SEGMENT = 'x'.repeat(12_000);
    const upstream = new TestUpstream();
    let gateway: GatewayProcess;
    let config: { file: string; remove(): void };

    beforeAll(async () => {
      await upstream.start();
      config = writeConfig({
        // Public: this suite is about the access log, not authentication.
        defaults: { auth: { default: 'public' } },
        services: [{ name: 'products', basePath: '/api/products', targets: [upstream.origin] }],
      });
      gateway = await GatewayProcess.start({
        GATEWAY_CONFIG: config.file,
        LOG_LEVEL: 'info',
        GATEWAY_ACCESS_LOG: 'true',
      });
      await (
        await fetch(`${gateway.origin}/api/products/42?q=1`, {
          headers: { 'x-request-id': 'log-1', traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` },
        })
      ).text();
      // Sent with node:http: fetch would resolve the dot segment before sending.
      await new Promise<void>((resolve, reject) =>
        get({ host: '127.0.0.1', port: gateway.port, path: '/api/products/%2e%2e/x' }, (res) =>
          res.resume().on('end', resolve),
        ).on('error', reject),
      );
      // More lines than one batch holds (32 KiB), a few at a time...
      for (let i = 0; i < BURST; i += 10) {
        await Promise.all(
          Array.from({ length: 10 }, async (_, j) => {
            const res = await fetch(`${gateway.origin}/api/products/${i + j}`, {
              headers: { 'x-request-id': `burst-${i + j}` },
            });
            await res.text();
          }),
        );
      }
      // ...and one line longer than the room a batch keeps for one more line.
      await (
        await fetch(`${gateway.origin}/api/products/${LONG_SEGMENT}`, {
          headers: { 'x-request-id': 'long-1' },
        })
      ).text();
      // SIGTERM drains and flushes the batched access log before the process exits.
      await gateway.stop('SIGTERM');
    }, 70_000);

    afterAll(async () => {
      gateway?.kill();
      config.remove();
      await upstream.kill();
    });

    const lines = () => gateway.jsonLines().filter((l) => l.msg === 'proxy');

    it('should write one JSON line per proxied request with its outcome', () => {
      const line = lines().find((l) => l.requestId === 'log-1');
      expect(line).toEqual({
        level: 'info',
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        service: 'gateway',
        msg: 'proxy',
        requestId: 'log-1',
        traceId: TRACE_ID,
        method: 'GET',
        path: '/api/products/42',
        status: 200,
        latencyMs: expect.any(Number),
        upstream: 'products',
        target: upstream.origin,
        attempts: 1,
      });
    });

    it('should log a refused path too, under a trace of its own', () => {
      const refused = lines().filter((l) => l.status === 400);
      expect(refused).toHaveLength(1);
      expect(refused[0].traceId).toMatch(/^[0-9a-f]{32}$/);
    });

    it('should keep every line whole and in order across batches, and a very long line too', () => {
      const ids = lines().map((l) => l.requestId as string);
      expect(ids[0]).toBe('log-1');
      expect(ids.at(-1)).toBe('long-1');
      // A line is written as its answer ends: within a group of ten concurrent requests in any
      // order, but each group after the one before.
      const burst = ids.slice(2, -1);
      expect(burst).toHaveLength(BURST);
      for (let i = 0; i < BURST; i += 10) {
        const group = Array.from({ length: 10 }, (_, j) => `burst-${i + j}`);
        expect([...burst.slice(i, i + 10)].sort()).toEqual([...group].sort());
      }
      const long = lines().find((l) => l.requestId === 'long-1');
      expect(long).toMatchObject({ status: 200, path: `/api/products/${LONG_SEGMENT}` });
    });
  });
});
