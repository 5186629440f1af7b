import { Pool } from 'undici';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import type { GatewayConfig } from '../routing/gateway-config';
import { parseGatewayConfig } from '../routing/gateway-config.loader';
import { UpstreamRegistry } from './upstream-registry';

/** The services a reloaded config gets: unchanged targets kept with their pool and health. */
describe('UpstreamRegistry: services of a reloaded config', () => {
  let registry: UpstreamRegistry;
  let metrics: GatewayMetrics;

  const config = (services: Record<string, unknown>[]): GatewayConfig =>
    parseGatewayConfig({
      services: services.map((service) => ({ activeHealth: { enabled: false }, ...service })),
    });
  const svc = (name: string, targets: unknown[], extra: Record<string, unknown> = {}) => ({
    name,
    basePath: `/${name}`,
    targets,
    ...extra,
  });

  beforeEach(() => {
    metrics = new GatewayMetrics();
    registry = new UpstreamRegistry(
      config([
        svc('a', ['http://127.0.0.1:1', 'http://127.0.0.1:2']),
        svc('b', ['http://127.0.0.1:3']),
      ]),
      metrics,
      Math.random,
    );
  });

  afterEach(async () => {
    await registry.onApplicationShutdown();
  });

  it('should keep a target whose service, origin, weight and settings are unchanged, with its pool and health', () => {
    const [a] = registry.services;
    const [t1, t2] = a.targets;
    t2.health.activeResult(false);
    const prepared = registry.prepare(
      config([
        svc('a', ['http://127.0.0.1:2', 'http://127.0.0.1:1']),
        svc('b', ['http://127.0.0.1:3']),
      ]),
    );
    const [next] = prepared.services;
    expect(next).not.toBe(a);
    expect(next.targets).toEqual([t2, t1]);
    expect(next.targets[0].pool).toBe(t2.pool);
    expect(next.targets[0].health.healthy).toBe(false);
    expect(prepared.created).toEqual([]);
    expect(prepared.dropped).toEqual([]);
    // The same counters and traffic window: a reload does not reset a service's recent traffic.
    expect(next.metrics).toBe(a.metrics);
  });

  it('should make a new target for a changed weight or changed pool settings, and drop the old one', () => {
    const [a, b] = registry.services;
    const prepared = registry.prepare(
      config([
        svc('a', ['http://127.0.0.1:1', { url: 'http://127.0.0.1:2', weight: 3 }], {
          balancer: 'weighted',
        }),
        svc('b', ['http://127.0.0.1:3'], { timeouts: { perTryMs: 1234 } }),
      ]),
    );
    const [nextA, nextB] = prepared.services;
    expect(nextA.targets[0]).toBe(a.targets[0]);
    expect(nextA.targets[1]).not.toBe(a.targets[1]);
    expect(nextA.targets[1].weight).toBe(3);
    expect(nextB.targets[0]).not.toBe(b.targets[0]);
    expect(prepared.created).toEqual([nextA.targets[1], nextB.targets[0]]);
    expect(prepared.dropped).toEqual([a.targets[1], b.targets[0]]);
  });

  it('should leave the current services as they are until adopt, and close what discard made', async () => {
    const before = registry.services;
    const prepared = registry.prepare(config([svc('a', ['http://127.0.0.1:9'])]));
    expect(registry.services).toBe(before);
    expect(before.every((s) => !s.superseded)).toBe(true);
    await registry.discard(prepared);
    expect((prepared.created[0].pool as Pool).destroyed).toBe(true);
    expect(before[0].targets.every((t) => !t.retired)).toBe(true);
  });

  it('should report the health of the target in use after discarding a new one of the same origin', async () => {
    const [a] = registry.services;
    a.targets[0].health.activeResult(false);
    const prepared = registry.prepare(
      config([svc('a', ['http://127.0.0.1:1'], { connectionsPerTarget: 3 })]),
    );
    await registry.discard(prepared);
    const series = await metrics.registry.getSingleMetricAsString(
      'gateway_upstream_target_healthy',
    );
    expect(series).toContain(
      'gateway_upstream_target_healthy{service="a",target="http://127.0.0.1:1"} 0',
    );
  });

  it('should on adopt supersede the old services, take dropped targets out of them and close their pools', async () => {
    const [a, b] = registry.services;
    const [t1, t2] = a.targets;
    const replaced: string[][] = [];
    registry.onServicesReplaced((change) =>
      replaced.push([...change.added, ...change.removed].map((t) => t.origin)),
    );
    const prepared = registry.prepare(
      config([svc('a', ['http://127.0.0.1:1']), svc('c', ['http://127.0.0.1:4'])]),
    );
    registry.adopt(prepared);
    expect(registry.services).toBe(prepared.services);
    expect(registry.services.map((s) => s.name)).toEqual(['a', 'c']);
    expect(a.superseded && b.superseded).toBe(true);
    // A retry of a request still on the old service never meets a closing pool.
    expect(a.targets).toEqual([t1]);
    expect(b.targets).toEqual([]);
    expect(t2.retired).toBe(true);
    expect(t1.retired).toBe(false);
    expect(replaced).toEqual([['http://127.0.0.1:4', 'http://127.0.0.1:2', 'http://127.0.0.1:3']]);
    await new Promise((r) => setImmediate(r));
    expect((t2.pool as Pool).closed).toBe(true);
    expect((t1.pool as Pool).closed).toBe(false);
    // Discovery answering late for an old service changes nothing.
    expect(
      registry.setTargets(a, [{ origin: 'http://127.0.0.1:8', source: 'http://127.0.0.1:8' }]),
    ).toMatchObject({ added: [], removed: [] });
  });

  it('should carry over the addresses found for a name the reloaded service still lists', async () => {
    await registry.onApplicationShutdown();
    registry = new UpstreamRegistry(
      config([
        svc('d', ['http://127.0.0.1:5', 'http://tasks.d:8080', 'http://tasks.gone:8080'], {
          discovery: { enabled: true },
        }),
      ]),
      metrics,
      Math.random,
    );
    const [d] = registry.services;
    registry.setTargets(d, [
      { origin: 'http://127.0.0.1:5', source: 'http://127.0.0.1:5' },
      { origin: 'http://10.0.0.1:8080', source: 'http://tasks.d:8080' },
      { origin: 'http://10.0.0.9:8080', source: 'http://tasks.gone:8080' },
    ]);
    const found = d.targets[1];
    const prepared = registry.prepare(
      config([svc('d', ['http://tasks.d:8080'], { discovery: { enabled: true } })]),
    );
    expect(prepared.services[0].targets).toEqual([found]);
    expect(prepared.dropped.map((t) => t.origin)).toEqual([
      'http://127.0.0.1:5',
      'http://10.0.0.9:8080',
    ]);
  });

  it('should keep reporting the health of a target that a new one of the same origin replaced', async () => {
    const prepared = registry.prepare(
      config([
        svc('a', ['http://127.0.0.1:1', 'http://127.0.0.1:2'], { connectionsPerTarget: 3 }),
        svc('b', ['http://127.0.0.1:3']),
      ]),
    );
    registry.adopt(prepared);
    const series = (
      await metrics.registry.getSingleMetricAsString('gateway_upstream_target_healthy')
    )
      .split('\n')
      .filter((line) => line.includes('service="a"'));
    expect(series).toHaveLength(2);
  });
});
