import { Histogram, Registry } from 'prom-client';
import { GatewayMetrics } from './gateway-metrics';

const LATENCY = 'gateway_request_duration_seconds';

async function lines(registry: Registry, prefix: string): Promise<string[]> {
  const text = await registry.metrics();
  return text.split('\n').filter((l) => l.startsWith(prefix));
}

describe('GatewayMetrics', () => {
  it('counts requests by service and status as they are scraped, adding up across scrapes', async () => {
    const metrics = new GatewayMetrics();
    const svc = metrics.forService('svc');
    expect(metrics.forService('svc')).toBe(svc);
    svc.record(200, 0.002);
    svc.record(200, 0.003);
    svc.record(503, 0.5);
    expect(await lines(metrics.registry, 'gateway_requests_total{')).toEqual([
      'gateway_requests_total{service="svc",status="200"} 2',
      'gateway_requests_total{service="svc",status="503"} 1',
    ]);
    svc.record(200, 0.001);
    metrics.forService('other').record(404, 0.001);
    expect(await lines(metrics.registry, 'gateway_requests_total{')).toEqual([
      'gateway_requests_total{service="svc",status="200"} 3',
      'gateway_requests_total{service="svc",status="503"} 1',
      'gateway_requests_total{service="other",status="404"} 1',
    ]);
  });

  it("writes the latency histogram as prom-client's Histogram does, bounds included", async () => {
    const metrics = new GatewayMetrics();
    const reference = new Registry();
    const histogram = new Histogram({
      name: LATENCY,
      help: 'Time from request to the end of the response on the proxy path',
      labelNames: ['service'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [reference],
    });
    metrics.forService('idle');
    const seconds = [0, 0.001, 0.0010001, 0.0025, 0.004, 0.07, 1, 9.99, 10, 10.5, 42];
    for (const [i, s] of seconds.entries()) {
      const service = i % 3 === 0 ? 'b' : 'a';
      metrics.forService(service).record(200, s);
      histogram.labels(service).observe(s);
    }
    const ours = await lines(metrics.registry, LATENCY);
    expect(ours.length).toBe(2 * 16);
    expect(ours).toEqual(await lines(reference, LATENCY));
    const text = await metrics.registry.metrics();
    expect(text).toContain(`# TYPE ${LATENCY} histogram`);
    expect(text).not.toContain('service="idle"');
  });
});
