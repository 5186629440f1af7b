import { once } from 'node:events';
import { createServer, Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import pino from 'pino';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import { parseGatewayConfig } from '../routing/gateway-config.loader';
import { UpstreamHealth } from './upstream-health';
import { UpstreamRegistry } from './upstream-registry';

/** A server that answers health checks and tells of each one and of each connection it gets. */
class HealthServer {
  readonly server: Server;
  checks = 0;
  readonly sockets: Socket[] = [];

  constructor() {
    this.server = createServer((req, res) => {
      this.checks += 1;
      res.end('ok');
      this.server.emit('checked');
    });
    this.server.on('connection', (socket: Socket) => this.sockets.push(socket));
  }

  async listen(host: string, port: number): Promise<number> {
    this.server.listen(port, host);
    await once(this.server, 'listening');
    return (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('UpstreamHealth with a changing target set', () => {
  const first = new HealthServer();
  const second = new HealthServer();
  let port: number;
  let metrics: GatewayMetrics;
  let registry: UpstreamRegistry;
  let health: UpstreamHealth;

  beforeAll(async () => {
    port = await first.listen('127.0.0.1', 0);
    await second.listen('127.0.0.2', port);
  });

  afterAll(async () => {
    await health.beforeApplicationShutdown();
    await registry.onApplicationShutdown();
    await Promise.all([first.close(), second.close()]);
  });

  it('should check an added target at once and drop the probe of a removed one', async () => {
    const config = parseGatewayConfig({
      services: [
        {
          name: 'svc',
          basePath: '/svc',
          targets: [`http://127.0.0.1:${port}`],
          // Only the first round and additions check: nothing waits for an interval here.
          activeHealth: { intervalMs: 3_600_000 },
        },
      ],
    });
    metrics = new GatewayMetrics();
    registry = new UpstreamRegistry(config, metrics, Math.random);
    health = new UpstreamHealth(registry, metrics, pino({ level: 'silent' }));
    const service = registry.get(0);
    const firstChecked = once(first.server, 'checked');
    health.onApplicationBootstrap();
    await firstChecked;

    const secondChecked = once(second.server, 'checked');
    const { added } = registry.setTargets(service, [
      { origin: `http://127.0.0.1:${port}`, source: `http://127.0.0.1:${port}` },
      { origin: `http://127.0.0.2:${port}`, source: `http://127.0.0.2:${port}` },
    ]);
    await secondChecked;
    expect([first.checks, second.checks]).toEqual([1, 1]);
    expect(health.summary()).toEqual({ svc: { healthy: 2, total: 2 } });
    expect(second.sockets).toHaveLength(1);

    // The probe client is destroyed, so the server may see a reset before the close.
    second.sockets[0].on('error', () => undefined);
    const probeClosed = new Promise((resolve) => second.sockets[0].once('close', resolve));
    registry.setTargets(service, [
      { origin: `http://127.0.0.1:${port}`, source: `http://127.0.0.1:${port}` },
    ]);
    await probeClosed;
    expect(health.summary()).toEqual({ svc: { healthy: 1, total: 1 } });

    // A failure reported late by a request that was on the removed target counts nowhere.
    const removed = added[0];
    for (let i = 0; i < 5; i++) health.failed(service, removed.usual);
    const text = await metrics.registry.metrics();
    expect(text).not.toContain(`127.0.0.2:${port}`);
    expect(text).toContain(`target="http://127.0.0.1:${port}"`);
  });
});

describe('UpstreamHealth telling which targets are unreachable', () => {
  it('should say once per target, with the reason, that it cannot be reached', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));

    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'info' },
      { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    const config = parseGatewayConfig({
      services: [{ name: 'svc', basePath: '/svc', targets: [`http://127.0.0.1:${port}`] }],
    });
    const metrics = new GatewayMetrics();
    const registry = new UpstreamRegistry(config, metrics, Math.random);
    const health = new UpstreamHealth(registry, metrics, logger);
    try {
      for (let round = 0; round < 3; round++) await health.checkService(registry.get(0));
    } finally {
      await health.beforeApplicationShutdown();
      await registry.onApplicationShutdown();
    }

    const failures = lines.filter((l) => l.msg === 'target failed its health check');
    expect(failures).toEqual([
      expect.objectContaining({
        level: 40,
        upstream: 'svc',
        target: `http://127.0.0.1:${port}`,
        reason: 'connection refused',
      }),
    ]);
    expect(lines.some((l) => 'stack' in l || 'err' in l)).toBe(false);
  });
});
