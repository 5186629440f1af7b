import { eventually, inParallel, metric, TestGateway } from './support/test-gateway';
import { closedPort, echo, TestUpstream, UpstreamBehaviour } from './support/test-upstream';

const status =
  (code: number): UpstreamBehaviour =>
  (_req, res) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: code }));
  };

/** Reads the whole request, then cuts the connection with a TCP reset instead of answering. */
const resetAfterReading: UpstreamBehaviour = (req) => {
  req.socket.resetAndDestroy();
};

/** Never answers; the connection stays open until the test kills the upstream. */
const silent: UpstreamBehaviour = () => undefined;

const noActiveChecks = { enabled: false };

describe('gateway: balancing, retries and upstream health', () => {
  const rr = [new TestUpstream(), new TestUpstream(), new TestUpstream()];
  const fleet = [new TestUpstream(), new TestUpstream(), new TestUpstream()];
  const resetting = new TestUpstream(resetAfterReading);
  const afterReset = new TestUpstream();
  const afterRefused = new TestUpstream(status(201));
  const failing = new TestUpstream(status(503));
  const failingFirst = new TestUpstream(status(503));
  const healthyNext = new TestUpstream();
  const slow = new TestUpstream(silent);
  /** Would hang every request, and fails its health check. */
  const sick = new TestUpstream(silent);
  sick.healthy = false;
  const all = [
    sick,
    ...rr,
    ...fleet,
    resetting,
    afterReset,
    afterRefused,
    failing,
    failingFirst,
    healthyNext,
    slow,
  ];
  /** Backoff jitter as the gateway draws it; a test may pin it. */
  let jitter = Math.random;
  /**
   * Every draw the gateway made, in order: when (on this process's clock) and the value. Each one is
   * a backoff, as every service here balances round-robin.
   */
  let draws: Array<{ at: number; value: number }> = [];
  const drawJitter = (): number => {
    const value = jitter();
    draws.push({ at: performance.now(), value });
    return value;
  };
  let gateway: TestGateway;

  beforeAll(async () => {
    await Promise.all(all.map((u) => u.start()));
    const nowhere = `http://127.0.0.1:${await closedPort()}`;
    gateway = await new TestGateway(
      {
        defaults: {
          retry: { attempts: 3, backoffBaseMs: 100, backoffMaxMs: 1000 },
          passiveHealth: { failures: 100, cooldownMs: 1000, maxCooldownMs: 5000 },
        },
        services: [
          { name: 'rr', basePath: '/api/rr', targets: rr.map((u) => u.origin) },
          {
            name: 'fleet',
            basePath: '/api/fleet',
            targets: fleet.map((u) => u.origin),
            activeHealth: { intervalMs: 100, timeoutMs: 200 },
            passiveHealth: { failures: 2, cooldownMs: 300, maxCooldownMs: 1000 },
          },
          {
            name: 'resetting',
            basePath: '/api/resetting',
            targets: [resetting.origin, afterReset.origin],
            activeHealth: noActiveChecks,
          },
          {
            name: 'refused',
            basePath: '/api/refused',
            targets: [nowhere, afterRefused.origin],
            activeHealth: noActiveChecks,
          },
          {
            name: 'failing',
            basePath: '/api/failing',
            targets: [failing.origin],
            idempotencyKeys: true,
            activeHealth: noActiveChecks,
          },
          {
            name: 'failover',
            basePath: '/api/failover',
            targets: [failingFirst.origin, healthyNext.origin],
            idempotencyKeys: true,
            activeHealth: noActiveChecks,
          },
          {
            name: 'slow',
            basePath: '/api/slow',
            targets: [slow.origin],
            timeouts: { perTryMs: 300 },
            activeHealth: noActiveChecks,
          },
          {
            name: 'dead',
            basePath: '/api/dead',
            targets: [nowhere, sick.origin],
            activeHealth: { intervalMs: 100, timeoutMs: 100 },
          },
        ],
      },
      { random: drawJitter },
    ).start();
  });

  afterAll(async () => {
    await Promise.all(all.map((u) => u.kill()));
    await gateway.close();
  });

  beforeEach(() => {
    jitter = Math.random;
    draws = [];
    for (const u of all) u.reset();
  });

  it('should spread 3,000 GETs over 3 targets exactly 1,000 each', async () => {
    const replies = await inParallel(3000, 30, (i) => gateway.send('GET', `/api/rr/items/${i}`));
    expect(replies.filter((r) => r.status === 200)).toHaveLength(3000);
    expect(rr.map((u) => u.count)).toEqual([1000, 1000, 1000]);
    const text = await gateway.metrics();
    expect(metric(text, 'gateway_requests_total{service="rr",status="200"}')).toBe(3000);
    expect(metric(text, 'gateway_upstream_retries_total{service="rr"}')).toBe(0);
  }, 20_000);

  it('should lose no GET when a target dies under load, eject it, and take it back once it recovers', async () => {
    const [first, victim, third] = fleet;
    const healthGauge = `gateway_upstream_target_healthy{service="fleet",target="${victim.origin}"}`;
    const ejections = `gateway_upstream_ejections_total{service="fleet",target="${victim.origin}"}`;
    let killed: Promise<void> | undefined;
    const replies = await inParallel(1500, 20, async (i) => {
      if (i === 300) killed = victim.kill();
      return gateway.send('GET', `/api/fleet/items/${i}`);
    });
    await killed;

    expect(replies.filter((r) => r.status !== 200)).toEqual([]);
    expect(first.count + victim.count + third.count).toBeGreaterThanOrEqual(1500);
    const whileDown = await gateway.metrics();
    expect(metric(whileDown, ejections)).toBeGreaterThanOrEqual(1);
    expect(metric(whileDown, healthGauge)).toBe(0);
    expect(metric(whileDown, 'gateway_upstream_retries_total{service="fleet"}')).toBeGreaterThan(0);

    victim.reset();
    await victim.start();
    await eventually(async () => {
      await gateway.send('GET', '/api/fleet/probe');
      return victim.count > 0;
    });
    const after = await inParallel(300, 10, (i) => gateway.send('GET', `/api/fleet/again/${i}`));
    expect(after.filter((r) => r.status !== 200)).toEqual([]);
    expect(victim.count).toBeGreaterThanOrEqual(90);
    expect(metric(await gateway.metrics(), healthGauge)).toBe(1);
  }, 20_000);

  it('should not resend a keyless POST whose target reset the connection after reading it', async () => {
    const res = await gateway.send('POST', '/api/resetting/orders', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ productId: 1, quantity: 2 }),
    });
    expect(res.status).toBe(502);
    expect(res.json).toMatchObject({ statusCode: 502, error: 'Bad Gateway' });
    expect(res.json.message).toContain('resetting');
    expect(resetting.count).toBe(1);
    expect(afterReset.count).toBe(0);
  });

  it('should send a POST refused at connect to the next target, once', async () => {
    const res = await gateway.send('POST', '/api/refused/orders', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ productId: 1, quantity: 2 }),
    });
    expect(res.status).toBe(201);
    expect(afterRefused.count).toBe(1);
    expect(afterRefused.seen[0].body).toBe('{"productId":1,"quantity":2}');
    const text = await gateway.metrics();
    expect(metric(text, 'gateway_upstream_retries_total{service="refused"}')).toBe(1);
  });

  it('should retry a POST with an Idempotency-Key on 503, up to the attempt limit', async () => {
    const res = await gateway.send('POST', '/api/failing/orders', {
      headers: { 'content-type': 'application/json', 'idempotency-key': 'order-1' },
      body: '{"a":1}',
    });
    expect(res.status).toBe(503);
    expect(failing.count).toBe(3);
    expect(failing.seen.map((s) => s.body)).toEqual(['{"a":1}', '{"a":1}', '{"a":1}']);
    expect(failing.seen.map((s) => s.headers['idempotency-key'])).toEqual([
      'order-1',
      'order-1',
      'order-1',
    ]);
  });

  it('should send a keyed POST once to a service that does not honour Idempotency-Key', async () => {
    const res = await gateway.send('POST', '/api/slow/orders', {
      headers: { 'idempotency-key': 'order-3' },
      body: '{"a":3}',
    });
    expect(res.status).toBe(504);
    expect(slow.count).toBe(1);
  }, 10_000);

  it('should not retry a POST without an Idempotency-Key on 503', async () => {
    const res = await gateway.send('POST', '/api/failing/orders', { body: '{"a":1}' });
    expect(res.status).toBe(503);
    expect(failing.count).toBe(1);
  });

  it('should land a keyed POST on the next target after a 503', async () => {
    const res = await gateway.send('POST', '/api/failover/orders', {
      headers: { 'idempotency-key': 'order-2' },
      body: '{"a":2}',
    });
    expect(res.status).toBe(200);
    expect(failingFirst.count).toBe(1);
    expect(healthyNext.count).toBe(1);
    expect(healthyNext.seen[0].body).toBe('{"a":2}');
  });

  /*
   * Timing on a shared machine: the gateway runs in this process, so the backoff draws and the
   * upstream's arrivals are stamped on one clock and one event loop. A timer never fires early, so
   * the lower bounds and the order below hold however loaded the machine is. The only upper bound,
   * BACKOFF_SLACK_MS, says a wait ended within a generous margin of its drawn value: a loaded
   * 2-core machine runs timers late by tens of ms, sometimes a few hundred; a wait that ignored its
   * ceiling (1 s here) or a retry held back by something else would exceed it.
   */
  const PER_TRY_MS = 300;
  const BACKOFF_SLACK_MS = 500;
  /** Node may fire a timer up to 1 ms before its nominal time when rounding milliseconds. */
  const TIMER_ROUNDING_MS = 2;

  /** The slow upstream's arrivals interleaved with the gateway's backoff draws. */
  function retryTimeline(): {
    arrivals: number[];
    waits: Array<{ drawnAt: number; value: number; next: number }>;
  } {
    const arrivals = slow.seen.map((s) => s.at);
    expect(draws).toHaveLength(arrivals.length - 1);
    const waits = draws.map((draw, i) => ({
      drawnAt: draw.at,
      value: draw.value,
      next: arrivals[i + 1],
    }));
    for (const [i, wait] of waits.entries()) {
      // Each backoff is drawn after its attempt reached the upstream (and timed out), and the next
      // attempt arrives after the draw: the per-try timers and the waits run one after another.
      expect(wait.drawnAt).toBeGreaterThan(arrivals[i]);
      expect(wait.next).toBeGreaterThan(wait.drawnAt);
    }
    return { arrivals, waits };
  }

  it('should give up on a silent upstream with 504, waiting longer before each retry', async () => {
    jitter = () => 0.999;
    const res = await gateway.send('GET', '/api/slow/report');
    expect(res.status).toBe(504);
    expect(res.json).toMatchObject({ statusCode: 504, error: 'Gateway Timeout' });
    expect(res.json.message).toContain('slow');
    expect(slow.count).toBe(3);
    // Full jitter pinned at its top: ceilings of 100 ms then 200 ms (base 100, doubling).
    const { waits } = retryTimeline();
    const [first, second] = waits.map((w) => w.next - w.drawnAt);
    expect(first).toBeGreaterThanOrEqual(99 - TIMER_ROUNDING_MS);
    expect(second).toBeGreaterThanOrEqual(199 - TIMER_ROUNDING_MS);
    expect(first).toBeLessThan(99 + BACKOFF_SLACK_MS);
    expect(second).toBeLessThan(199 + BACKOFF_SLACK_MS);
    expect(res.ms).toBeGreaterThanOrEqual(3 * PER_TRY_MS + 99 + 199 - TIMER_ROUNDING_MS);
  }, 10_000);

  it('should keep each wait within its full-jitter bound', async () => {
    const res = await gateway.send('GET', '/api/slow/report');
    expect(res.status).toBe(504);
    expect(slow.count).toBe(3);
    const { waits } = retryTimeline();
    for (const [i, wait] of waits.entries()) {
      const ceiling = 100 * 2 ** i;
      const drawn = Math.floor(wait.value * ceiling);
      expect(wait.next - wait.drawnAt).toBeGreaterThanOrEqual(drawn - TIMER_ROUNDING_MS);
      expect(wait.next - wait.drawnAt).toBeLessThan(drawn + BACKOFF_SLACK_MS);
    }
  }, 10_000);

  it('should not resend a keyless POST that timed out after it was sent', async () => {
    const retriesBefore = metric(
      await gateway.metrics(),
      'gateway_upstream_retries_total{service="slow"}',
    );
    const res = await gateway.send('POST', '/api/slow/orders', { body: '{"a":3}' });
    expect(res.status).toBe(504);
    expect(slow.count).toBe(1);
    // No second attempt was even scheduled, and the answer came once the one try timed out.
    expect(draws).toHaveLength(0);
    expect(res.ms).toBeGreaterThanOrEqual(PER_TRY_MS - TIMER_ROUNDING_MS);
    const retries = metric(
      await gateway.metrics(),
      'gateway_upstream_retries_total{service="slow"}',
    );
    expect(retries).toBe(retriesBefore);
  }, 10_000);

  it('should answer 503 at once when a service has no healthy target', async () => {
    await eventually(async () => {
      const ready = await gateway.send('GET', '/health/ready');
      return ready.json?.details?.upstreams?.dead?.healthy === 0;
    });
    const res = await gateway.send('GET', '/api/dead/anything');
    expect(res.status).toBe(503);
    expect(res.json).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
    expect(res.json.message).toContain('dead');
    // Nothing was sent and nothing was waited for: no attempt reached the sick target and no
    // backoff was drawn. The bound only catches a wait on a timeout (1 s connect, 5 s per try).
    expect(sick.count).toBe(0);
    expect(draws).toHaveLength(0);
    expect(res.ms).toBeLessThan(1_000);
  });

  it('should stay ready and report healthy targets per service', async () => {
    const ready = await gateway.send('GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.json.details.upstreams).toMatchObject({
      rr: { healthy: 3, total: 3 },
      dead: { total: 2 },
    });
    const live = await gateway.send('GET', '/health/live');
    expect(live.status).toBe(200);
  });

  it('should keep serving other services meanwhile', async () => {
    rr[0].behaviour = echo;
    const res = await gateway.send('GET', '/api/rr/still-here');
    expect(res.status).toBe(200);
  });
});
