import { metric, TestGateway } from './support/test-gateway';
import { echo, TestUpstream, UpstreamBehaviour } from './support/test-upstream';

/** `/bad` gets bytes that are not HTTP (an attempt the gateway retries); anything else an echo. */
const malformedOnBad: UpstreamBehaviour = (req, res, seen) => {
  if (req.url === '/bad') req.socket.end('not an HTTP response\r\n\r\n');
  else echo(req, res, seen);
};

const noActiveChecks = { enabled: false };
const retry = { attempts: 3, backoffBaseMs: 1, backoffMaxMs: 5 };

describe('gateway: passive health counts requests, not attempts', () => {
  const lone = new TestUpstream(malformedOnBad);
  const pair = [new TestUpstream(malformedOnBad), new TestUpstream(malformedOnBad)];
  const last = [new TestUpstream(malformedOnBad), new TestUpstream(malformedOnBad)];
  const all = [lone, ...pair, ...last];
  let gateway: TestGateway;

  beforeAll(async () => {
    await Promise.all(all.map((u) => u.start()));
    gateway = await new TestGateway({
      defaults: { retry, activeHealth: noActiveChecks },
      services: [
        {
          name: 'lone',
          basePath: '/api/lone',
          targets: [lone.origin],
          passiveHealth: { failures: 3, cooldownMs: 60_000, maxCooldownMs: 60_000 },
        },
        {
          name: 'pair',
          basePath: '/api/pair',
          targets: pair.map((u) => u.origin),
          passiveHealth: { failures: 2, cooldownMs: 60_000, maxCooldownMs: 60_000 },
        },
        {
          name: 'last',
          basePath: '/api/last',
          targets: last.map((u) => u.origin),
          passiveHealth: { failures: 1, cooldownMs: 60_000, maxCooldownMs: 60_000 },
        },
      ],
    }).start();
  });

  afterAll(async () => {
    await Promise.all(all.map((u) => u.kill()));
    await gateway.close();
  });

  const upstreams = async () =>
    (await gateway.send('GET', '/health/ready')).json.details.upstreams as Record<
      string,
      { healthy: number; total: number }
    >;

  it('should count one failure for a GET tried 3 times on a single target, and keep serving', async () => {
    const bad = await gateway.send('GET', '/api/lone/bad');
    expect(bad.status).toBe(502);
    expect(lone.count).toBe(3);
    const good = await gateway.send('GET', '/api/lone/good');
    expect(good.status).toBe(200);
    expect((await upstreams()).lone).toEqual({ healthy: 1, total: 1 });
  });

  it('should charge each target one failure per request, however often the request met it', async () => {
    const bad = await gateway.send('GET', '/api/pair/bad');
    expect(bad.status).toBe(502);
    // Three attempts over two targets: one of them met twice.
    expect(pair.map((u) => u.count).sort()).toEqual([1, 2]);
    expect((await upstreams()).pair).toEqual({ healthy: 2, total: 2 });
    const text = await gateway.metrics();
    for (const u of pair) {
      expect(
        metric(text, `gateway_upstream_ejections_total{service="pair",target="${u.origin}"}`),
      ).toBe(0);
    }
  });

  it('should never eject the last target in rotation because of one request', async () => {
    // failures: 1, so the first target this request fails on is ejected; the other is the last one left.
    const bad = await gateway.send('GET', '/api/last/bad');
    expect(bad.status).toBe(502);
    expect((await upstreams()).last).toEqual({ healthy: 1, total: 2 });
    const good = await gateway.send('GET', '/api/last/good');
    expect(good.status).toBe(200);
  });
});
