import { GatewayMetrics } from '../metrics/gateway-metrics';
import { parseGatewayConfig } from '../routing/gateway-config.loader';
import { LeastRequestBalancer } from './least-request-balancer';
import { RoundRobinBalancer } from './round-robin-balancer';
import { UpstreamRegistry } from './upstream-registry';
import { WeightedBalancer } from './weighted-balancer';

describe('UpstreamRegistry', () => {
  let registry: UpstreamRegistry;

  const load = (services: Record<string, unknown>[]) => {
    const config = parseGatewayConfig({
      services: services.map((service, i) => ({
        name: `svc-${i}`,
        basePath: `/svc-${i}`,
        activeHealth: { enabled: false },
        ...service,
      })),
    });
    registry = new UpstreamRegistry(config, new GatewayMetrics(), Math.random);
    return registry;
  };

  afterEach(async () => {
    await registry?.onApplicationShutdown();
  });

  it("should build each service's balancer from its config, round-robin by default", () => {
    const targets = ['http://127.0.0.1:1'];
    const { services } = load([
      { targets },
      { targets, balancer: 'least-request' },
      { targets, balancer: 'weighted' },
    ]);
    expect(services[0].balancer).toBeInstanceOf(RoundRobinBalancer);
    expect(services[1].balancer).toBeInstanceOf(LeastRequestBalancer);
    expect(services[2].balancer).toBeInstanceOf(WeightedBalancer);
  });

  it('should give a target the weight of its configured target, also to addresses found for a name', () => {
    const service = load([
      {
        balancer: 'weighted',
        discovery: { enabled: true },
        targets: [
          { url: 'http://127.0.0.1:1', weight: 3 },
          { url: 'http://tasks.svc:2', weight: 2 },
        ],
      },
    ]).get(0);
    expect(service.targets.map((t) => [t.origin, t.weight])).toEqual([['http://127.0.0.1:1', 3]]);
    registry.setTargets(service, [
      { origin: 'http://127.0.0.1:1', source: 'http://127.0.0.1:1' },
      { origin: 'http://10.0.0.1:2', source: 'http://tasks.svc:2' },
      { origin: 'http://10.0.0.2:2', source: 'http://tasks.svc:2' },
    ]);
    expect(service.targets.map((t) => [t.origin, t.weight])).toEqual([
      ['http://127.0.0.1:1', 3],
      ['http://10.0.0.1:2', 2],
      ['http://10.0.0.2:2', 2],
    ]);
  });
});
