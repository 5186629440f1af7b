import pino from 'pino';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import { UpstreamRegistry } from '../proxy/upstream-registry';
import { parseGatewayConfig } from '../routing/gateway-config.loader';
import type { HostResolver } from './host-resolver';
import { TargetDiscovery } from './target-discovery';

type LogLine = { level: number; msg: string; [key: string]: unknown };

/** A resolver the test answers for: a list of addresses, or an error, per name. */
class FakeResolver {
  readonly answers = new Map<string, readonly string[] | Error>();
  calls = 0;
  readonly resolve: HostResolver = (host) => {
    this.calls += 1;
    const answer = this.answers.get(host);
    if (answer === undefined) return Promise.reject(new Error(`queryA ENOTFOUND ${host}`));
    if (answer instanceof Error) return Promise.reject(answer);
    return Promise.resolve(answer);
  };
}

describe('TargetDiscovery', () => {
  let resolver: FakeResolver;
  let metrics: GatewayMetrics;
  let registry: UpstreamRegistry;
  let discovery: TargetDiscovery;
  let logs: LogLine[];

  function start(service: Record<string, unknown>): TargetDiscovery {
    const config = parseGatewayConfig({
      services: [{ name: 'svc', basePath: '/svc', activeHealth: { enabled: false }, ...service }],
    });
    metrics = new GatewayMetrics();
    registry = new UpstreamRegistry(config, metrics, Math.random);
    const logger = pino({}, { write: (line: string) => logs.push(JSON.parse(line) as LogLine) });
    discovery = new TargetDiscovery(registry, resolver.resolve, logger);
    return discovery;
  }

  const origins = () => registry.get(0).targets.map((t) => t.origin);
  const healthSeries = async () =>
    (await metrics.registry.getSingleMetricAsString('gateway_upstream_target_healthy'))
      .split('\n')
      .filter((line) => line.startsWith('gateway_upstream_target_healthy{'));

  beforeEach(() => {
    resolver = new FakeResolver();
    logs = [];
  });

  afterEach(async () => {
    jest.useRealTimers();
    discovery?.beforeApplicationShutdown();
    await registry?.onApplicationShutdown();
  });

  it('should turn a name into one target per address, next to the targets used as written', async () => {
    resolver.answers.set('tasks.svc', ['10.0.0.1', '10.0.0.2', 'fd00::3', '10.0.0.1']);
    start({
      targets: ['http://127.0.0.1:9000', 'http://tasks.svc:3001'],
      discovery: { enabled: true },
    });
    expect(origins()).toEqual(['http://127.0.0.1:9000']);

    await discovery.onApplicationBootstrap();

    expect(origins()).toEqual([
      'http://127.0.0.1:9000',
      'http://10.0.0.1:3001',
      'http://10.0.0.2:3001',
      'http://[fd00::3]:3001',
    ]);
    expect(registry.get(0).targets.map((t) => t.source)).toEqual([
      'http://127.0.0.1:9000',
      'http://tasks.svc:3001',
      'http://tasks.svc:3001',
      'http://tasks.svc:3001',
    ]);
    expect(await healthSeries()).toHaveLength(4);
    expect(logs.filter((l) => l.msg === 'targets changed')).toEqual([
      expect.objectContaining({
        upstream: 'svc',
        added: ['http://10.0.0.1:3001', 'http://10.0.0.2:3001', 'http://[fd00::3]:3001'],
        removed: [],
        targets: 4,
      }),
    ]);
  });

  it('should start a reloaded service from the addresses found so far, then resolve its names again', async () => {
    resolver.answers.set('tasks.svc', ['10.0.0.1', '10.0.0.2']);
    start({ targets: ['http://tasks.svc:3001'], discovery: { enabled: true } });
    await discovery.onApplicationBootstrap();
    const old = registry.get(0);
    const [first, second] = old.targets;

    resolver.answers.set('tasks.svc', ['10.0.0.2', '10.0.0.3']);
    const reloaded = parseGatewayConfig({
      services: [
        {
          name: 'svc',
          basePath: '/svc2',
          activeHealth: { enabled: false },
          targets: ['http://tasks.svc:3001'],
          discovery: { enabled: true },
        },
      ],
    });
    registry.adopt(registry.prepare(reloaded));
    const next = registry.get(0);
    expect(next).not.toBe(old);
    expect(next.targets).toEqual([first, second]);

    await new Promise((r) => setTimeout(r, 20));
    expect(origins()).toEqual(['http://10.0.0.2:3001', 'http://10.0.0.3:3001']);
    expect(next.targets[0]).toBe(second);
    expect(first.retired).toBe(true);
    // The old service's set is no longer touched.
    expect(old.targets).toEqual([first, second]);
  });

  it('should keep the targets that stay, add new addresses and retire vanished ones', async () => {
    resolver.answers.set('tasks.svc', ['10.0.0.1', '10.0.0.2']);
    start({ targets: ['http://tasks.svc:3001'], discovery: { enabled: true } });
    await discovery.onApplicationBootstrap();
    const [first, second] = registry.get(0).targets;

    resolver.answers.set('tasks.svc', ['10.0.0.3', '10.0.0.2']);
    await discovery.refresh();

    expect(origins()).toEqual(['http://10.0.0.2:3001', 'http://10.0.0.3:3001']);
    expect(registry.get(0).targets[0]).toBe(second);
    expect(first.retired).toBe(true);
    expect(second.retired).toBe(false);
    expect((first.pool as unknown as { closed: boolean }).closed).toBe(true);
    const series = await healthSeries();
    expect(series).toHaveLength(2);
    expect(series.join('\n')).not.toContain('10.0.0.1');
    expect(logs.filter((l) => l.msg === 'targets changed').at(-1)).toEqual(
      expect.objectContaining({
        added: ['http://10.0.0.3:3001'],
        removed: ['http://10.0.0.1:3001'],
        targets: 2,
      }),
    );
  });

  it('should not swap the set when the same addresses come back in another order', async () => {
    resolver.answers.set('tasks.svc', ['10.0.0.1', '10.0.0.2']);
    start({ targets: ['http://tasks.svc:3001'], discovery: { enabled: true } });
    await discovery.onApplicationBootstrap();
    const before = registry.get(0).targets;

    resolver.answers.set('tasks.svc', ['10.0.0.2', '10.0.0.1']);
    await discovery.refresh();

    expect(registry.get(0).targets).toBe(before);
    expect(logs.filter((l) => l.msg === 'targets changed')).toHaveLength(1);
  });

  it('should keep the last known addresses when a name stops resolving, and warn once', async () => {
    resolver.answers.set('tasks.svc', ['10.0.0.1', '10.0.0.2']);
    start({ targets: ['http://tasks.svc:3001'], discovery: { enabled: true } });
    await discovery.onApplicationBootstrap();
    const before = registry.get(0).targets;

    resolver.answers.set('tasks.svc', new Error('queryA ETIMEOUT tasks.svc'));
    await discovery.refresh();
    await discovery.refresh();
    resolver.answers.set('tasks.svc', []);
    await discovery.refresh();
    resolver.answers.set('tasks.svc', ['not-an-address']);
    await discovery.refresh();

    expect(registry.get(0).targets).toBe(before);
    expect(before.map((t) => t.retired)).toEqual([false, false]);
    const warnings = logs.filter((l) => l.level === 40);
    expect(warnings).toEqual([
      expect.objectContaining({
        msg: 'target name does not resolve; keeping its last known addresses',
        upstream: 'svc',
        target: 'http://tasks.svc:3001',
        addresses: ['10.0.0.1', '10.0.0.2'],
        err: 'queryA ETIMEOUT tasks.svc',
      }),
    ]);

    resolver.answers.set('tasks.svc', ['10.0.0.2']);
    await discovery.refresh();
    expect(origins()).toEqual(['http://10.0.0.2:3001']);
    expect(logs.some((l) => l.msg === 'target name resolves again')).toBe(true);
  });

  it('should start without targets when the first resolution fails, and add them once it resolves', async () => {
    start({ targets: ['http://tasks.svc:3001'], discovery: { enabled: true } });
    await discovery.onApplicationBootstrap();

    expect(origins()).toEqual([]);
    expect(registry.get(0).balancer.pick()).toBeNull();
    expect(logs.filter((l) => l.level === 50)).toEqual([
      expect.objectContaining({
        msg: 'target name does not resolve; no target for it until it does',
        target: 'http://tasks.svc:3001',
        err: 'queryA ENOTFOUND tasks.svc',
      }),
    ]);

    resolver.answers.set('tasks.svc', ['10.0.0.7']);
    await discovery.refresh();
    expect(origins()).toEqual(['http://10.0.0.7:3001']);
  });

  it('should merge two names and count an address shared by both once', async () => {
    resolver.answers.set('a.svc', ['10.0.0.1', '10.0.0.2']);
    resolver.answers.set('b.svc', ['10.0.0.2', '10.0.0.3']);
    start({ targets: ['http://a.svc:80', 'http://b.svc:80'], discovery: { enabled: true } });
    await discovery.onApplicationBootstrap();
    expect(origins()).toEqual(['http://10.0.0.1', 'http://10.0.0.2', 'http://10.0.0.3']);
  });

  it('should use names as written when discovery is off', async () => {
    resolver.answers.set('tasks.svc', ['10.0.0.1']);
    start({ targets: ['http://tasks.svc:3001', 'http://localhost:3002'] });
    await discovery.onApplicationBootstrap();
    expect(origins()).toEqual(['http://tasks.svc:3001', 'http://localhost:3002']);
    expect(resolver.calls).toBe(0);
  });

  it('should resolve again every interval and stop on shutdown', async () => {
    jest.useFakeTimers();
    resolver.answers.set('tasks.svc', ['10.0.0.1']);
    start({ targets: ['http://tasks.svc:3001'], discovery: { enabled: true, intervalMs: 1000 } });
    await discovery.onApplicationBootstrap();
    expect(resolver.calls).toBe(1);

    resolver.answers.set('tasks.svc', ['10.0.0.1', '10.0.0.9']);
    await jest.advanceTimersByTimeAsync(999);
    expect(resolver.calls).toBe(1);
    expect(origins()).toEqual(['http://10.0.0.1:3001']);
    await jest.advanceTimersByTimeAsync(1);
    expect(resolver.calls).toBe(2);
    expect(origins()).toEqual(['http://10.0.0.1:3001', 'http://10.0.0.9:3001']);
    await jest.advanceTimersByTimeAsync(3000);
    expect(resolver.calls).toBe(5);

    discovery.beforeApplicationShutdown();
    expect(jest.getTimerCount()).toBe(0);
    await jest.advanceTimersByTimeAsync(5000);
    expect(resolver.calls).toBe(5);
  });

  it('should never run two resolutions of a service at once', async () => {
    const pending: (() => void)[] = [];
    let running = 0;
    let most = 0;
    resolver.answers.set('tasks.svc', ['10.0.0.1']);
    const answer = resolver.resolve;
    start({ targets: ['http://tasks.svc:3001'], discovery: { enabled: true } });
    discovery = new TargetDiscovery(
      registry,
      async (host) => {
        running += 1;
        most = Math.max(most, running);
        await new Promise<void>((resolve) => pending.push(resolve));
        running -= 1;
        return answer(host);
      },
      pino({ level: 'silent' }),
    );
    const refreshes = [discovery.refresh(), discovery.refresh(), discovery.refresh()];
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setImmediate(r));
      expect(pending).toHaveLength(1);
      pending.shift()!();
    }
    await Promise.all(refreshes);
    expect(most).toBe(1);
    expect(resolver.calls).toBe(3);
  });
});
