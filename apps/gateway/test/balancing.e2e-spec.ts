import { request as httpRequest } from 'node:http';
import { StatusService } from '../src/admin/status.service';
import { UpstreamRegistry } from '../src/proxy/upstream-registry';
import { eventually, inParallel, metric, TestGateway } from './support/test-gateway';
import { closedPort, echo, TestUpstream, UpstreamBehaviour } from './support/test-upstream';

/** Answers `/hang` never, anything else after `delayMs`. */
const answersAfter =
  (delayMs: number): UpstreamBehaviour =>
  (req, res, seen) => {
    if (req.url === '/hang') return;
    if (delayMs === 0) echo(req, res, seen);
    else setTimeout(() => echo(req, res, seen), delayMs);
  };

const noActiveChecks = { enabled: false };
const retry = { attempts: 3, backoffBaseMs: 1, backoffMaxMs: 5 };
const ejectAtOnce = { failures: 1, cooldownMs: 60_000, maxCooldownMs: 60_000 };

describe('gateway: balancing by load', () => {
  const weighted = [new TestUpstream(), new TestUpstream()];
  const fast = [new TestUpstream(answersAfter(0)), new TestUpstream(answersAfter(0))];
  const slow = new TestUpstream(answersAfter(200));
  const rrFast = [new TestUpstream(), new TestUpstream()];
  const rrSlow = new TestUpstream(answersAfter(200));
  const survivors = [new TestUpstream(), new TestUpstream()];
  const all = [...weighted, ...fast, slow, ...rrFast, rrSlow, ...survivors];
  let gateway: TestGateway;
  let nowhere: string;

  beforeAll(async () => {
    await Promise.all(all.map((u) => u.start()));
    nowhere = `http://127.0.0.1:${await closedPort()}`;
    gateway = await new TestGateway({
      defaults: { retry, activeHealth: noActiveChecks },
      services: [
        {
          name: 'weighted',
          basePath: '/api/weighted',
          balancer: 'weighted',
          targets: [{ url: weighted[0].origin, weight: 3 }, weighted[1].origin],
        },
        {
          name: 'least',
          basePath: '/api/least',
          balancer: 'least-request',
          targets: [slow.origin, ...fast.map((u) => u.origin)],
          timeouts: { perTryMs: 1_000 },
        },
        {
          name: 'rr',
          basePath: '/api/rr',
          targets: [rrSlow.origin, ...rrFast.map((u) => u.origin)],
        },
        {
          name: 'least-failover',
          basePath: '/api/least-failover',
          balancer: 'least-request',
          targets: [nowhere, survivors[0].origin],
          passiveHealth: ejectAtOnce,
        },
        {
          name: 'weighted-failover',
          basePath: '/api/weighted-failover',
          balancer: 'weighted',
          // The dead target comes first and weighs most: the first request tries it first.
          targets: [{ url: nowhere, weight: 5 }, survivors[1].origin],
          passiveHealth: ejectAtOnce,
        },
      ],
    }).start();
  });

  afterAll(async () => {
    await Promise.all(all.map((u) => u.kill()));
    await gateway.close();
  });

  const targetsOf = (name: string) =>
    gateway.get(UpstreamRegistry).services.find((s) => s.name === name)!.targets;

  it('should split 4,000 requests 3:1 exactly by weight', async () => {
    const replies = await inParallel(4_000, 16, () => gateway.send('GET', '/api/weighted/item'));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(weighted.map((u) => u.count)).toEqual([3_000, 1_000]);
    expect(targetsOf('weighted').map((t) => t.inFlight)).toEqual([0, 0]);
  });

  it('should send a slow target fewer requests under least-request, where round-robin shares evenly', async () => {
    const run = async (path: string) => {
      const replies = await inParallel(300, 12, () => gateway.send('GET', path));
      expect(replies.every((r) => r.status === 200)).toBe(true);
    };
    await run('/api/least/slow');
    await run('/api/rr/slow');
    // Round-robin gives every target its turn, however slow it answers.
    expect([rrSlow.count, ...rrFast.map((u) => u.count)]).toEqual([100, 100, 100]);
    // Least-request: the slow target holds its attempts for 200 ms and loses nearly every draw.
    expect(slow.count + fast[0].count + fast[1].count).toBe(300);
    for (const u of fast) expect(u.count).toBeGreaterThan(slow.count * 4);
    expect(targetsOf('least').map((t) => t.inFlight)).toEqual([0, 0, 0]);
  });

  it('should fail over on a connect error and then skip the ejected target', async () => {
    for (const name of ['least-failover', 'weighted-failover']) {
      // least-request draws the dead target on about half the first requests; keep sending until
      // one has met it (and ejected it), then every later one goes to the live target at once.
      await eventually(async () => {
        const res = await gateway.send('GET', `/api/${name}/item`);
        expect(res.status).toBe(200);
        return targetsOf(name)[0].health.snapshot().ejected;
      });
      const before = metric(
        await gateway.metrics(),
        `gateway_upstream_retries_total{service="${name}"}`,
      );
      expect(before).toBe(1);
      const replies = await inParallel(20, 4, () => gateway.send('GET', `/api/${name}/item`));
      expect(replies.every((r) => r.status === 200)).toBe(true);
      const text = await gateway.metrics();
      expect(metric(text, `gateway_upstream_retries_total{service="${name}"}`)).toBe(1);
      expect(targetsOf(name).map((t) => t.inFlight)).toEqual([0, 0]);
    }
    expect(survivors.map((u) => u.count).every((n) => n >= 21)).toBe(true);
  });

  it('should count an attempt out of in-flight however it ends: client abort, per-try timeout', async () => {
    const least = targetsOf('least');
    const inFlight = () => least.reduce((sum, t) => sum + t.inFlight, 0);
    // A client that leaves while its request waits on a target that does not answer.
    const req = httpRequest(`${gateway.origin}/api/least/hang`);
    req.on('error', () => undefined);
    req.end();
    await eventually(() => inFlight() === 1);
    req.destroy();
    await eventually(() => inFlight() === 0);
    // A request that every target leaves unanswered past the per-try timeout, on each of 3 tries.
    const hung = await gateway.send('GET', '/api/least/hang');
    expect(hung.status).toBe(504);
    await eventually(() => least.every((t) => t.inFlight === 0));
  }, 15_000);

  it('should report the balancer and, on a weighted service, each target weight', () => {
    const report = gateway.get(StatusService).report();
    const byName = new Map(report.config.services.map((s) => [s.name, s]));
    expect(byName.get('weighted')?.balancer).toBe('weighted');
    expect(byName.get('least')?.balancer).toBe('least-request');
    expect(byName.get('rr')?.balancer).toBe('round-robin');
    expect(byName.get('weighted')?.targets).toEqual([
      { url: weighted[0].origin, weight: 3 },
      weighted[1].origin,
    ]);
    const live = new Map(report.services.map((s) => [s.name, s]));
    expect(live.get('weighted')?.balancer).toBe('weighted');
    expect(live.get('least')?.balancer).toBe('least-request');
    expect(live.get('weighted')?.targets.map((t) => [t.weight, t.inFlight])).toEqual([
      [3, 0],
      [1, 0],
    ]);
    expect(live.get('least')?.targets.every((t) => t.weight === undefined)).toBe(true);
  });
});
