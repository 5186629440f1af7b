import { startAuthGateway as startGateway, tokenFor } from './support/auth-gateway';
import { deleteKeys, testKeyPrefix } from './support/auth-harness';
import { describeWhen, describeWithRedis, TEST_REDIS_URL } from './support/redis-available';
import { PrivateRedisServer, redisServerStatus } from './support/redis-server';
import { inParallel, metric, Reply, TestGateway } from './support/test-gateway';
import { TestUpstream } from './support/test-upstream';

function routes(shop: TestUpstream, orders: TestUpstream, trustedProxyHops = 0) {
  const activeHealth = { enabled: false };
  return {
    trustedProxyHops,
    services: [
      {
        name: 'shop',
        basePath: '/api/shop',
        targets: [shop.origin],
        activeHealth,
        auth: { default: 'public' },
        rateLimits: [
          { methods: ['GET'], pathPrefix: '/a', limit: 5, windowSeconds: 60 },
          { methods: ['GET'], pathPrefix: '/b', limit: 5, windowSeconds: 60 },
          { methods: ['GET'], pathPrefix: '/c', limit: 5, windowSeconds: 60 },
          { pathPrefix: '/strict', limit: 100, windowSeconds: 60, onStoreDown: 'deny' },
          { pathPrefix: '/short', limit: 2, windowSeconds: 2 },
        ],
      },
      {
        name: 'orders',
        basePath: '/api/orders',
        targets: [orders.origin],
        activeHealth,
        auth: { default: 'authenticated' },
        rateLimits: [{ methods: ['POST'], path: '/', limit: 3, windowSeconds: 60, by: 'user' }],
      },
    ],
  };
}

const statuses = (replies: Reply[]) => replies.map((r) => r.status);

async function sendTimes(
  gw: TestGateway,
  n: number,
  method: string,
  path: string,
  headers?: (i: number) => Record<string, string>,
): Promise<Reply[]> {
  const replies: Reply[] = [];
  for (let i = 0; i < n; i++) replies.push(await gw.send(method, path, { headers: headers?.(i) }));
  return replies;
}

/** The same behaviour with in-memory counters and with the shared Redis. */
function limitSuite(mode: 'memory' | 'redis') {
  const shop = new TestUpstream();
  const orders = new TestUpstream();
  const prefix = testKeyPrefix();
  let gw: TestGateway;

  beforeAll(async () => {
    await Promise.all([shop.start(), orders.start()]);
    gw = await startGateway(
      routes(shop, orders),
      mode === 'redis' ? { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix } : {},
    );
  });

  afterAll(async () => {
    await gw?.close();
    await Promise.all([shop.kill(), orders.kill()]);
    if (mode === 'redis') await deleteKeys(TEST_REDIS_URL, prefix);
  });

  beforeEach(() => {
    shop.reset();
    orders.reset();
  });

  it('should let 5 of 8 through and refuse 3 with 429, Retry-After and RateLimit headers', async () => {
    const replies = await sendTimes(gw, 8, 'GET', '/api/shop/a/items', (i) => ({
      'x-request-id': `rq-${i}`,
    }));
    expect(statuses(replies)).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    expect(shop.count).toBe(5);
    expect(replies.map((r) => r.headers['ratelimit-remaining'])).toEqual([
      '4',
      '3',
      '2',
      '1',
      '0',
      '0',
      '0',
      '0',
    ]);
    for (const reply of replies) {
      expect(reply.headers['ratelimit-limit']).toBe('5');
      const reset = Number(reply.headers['ratelimit-reset']);
      expect(reset).toBeGreaterThanOrEqual(55);
      expect(reset).toBeLessThanOrEqual(60);
    }
    const refused = replies[7];
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(55);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.json).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: 'rate limit exceeded',
      requestId: 'rq-7',
    });
    expect(replies[0].headers['retry-after']).toBeUndefined();
    const text = await gw.metrics();
    expect(
      metric(text, 'gateway_rate_limit_decisions_total{service="shop",outcome="limited"}'),
    ).toBe(3);
  });

  it('should count by socket address whatever X-Forwarded-For says when no proxy is trusted', async () => {
    const replies = await sendTimes(gw, 7, 'GET', '/api/shop/b', (i) => ({
      'x-forwarded-for': `198.51.100.${i + 1}`,
    }));
    expect(statuses(replies)).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(shop.count).toBe(5);
  });

  it('should count each user apart on a per-user limit', async () => {
    const [one, two] = [await tokenFor(gw, '41'), await tokenFor(gw, '42')];
    const post = (token: string) => () => ({ authorization: `Bearer ${token}` });
    const first = await sendTimes(gw, 4, 'POST', '/api/orders', post(one));
    const second = await sendTimes(gw, 4, 'POST', '/api/orders', post(two));
    expect(statuses(first)).toEqual([200, 200, 200, 429]);
    expect(statuses(second)).toEqual([200, 200, 200, 429]);
    expect(orders.seen.map((s) => s.headers['x-user-id'])).toEqual([
      '41',
      '41',
      '41',
      '42',
      '42',
      '42',
    ]);
    // GETs are not under this limit and carry no RateLimit headers.
    const get = await gw.send('GET', '/api/orders', { headers: post(one)() });
    expect(get.status).toBe(200);
    expect(get.headers['ratelimit-limit']).toBeUndefined();
  });

  it('should start a new window when the old one ends', async () => {
    const before = await sendTimes(gw, 3, 'GET', '/api/shop/short');
    expect(statuses(before)).toEqual([200, 200, 429]);
    const resetMs = Number(before[2].headers['retry-after']) * 1000;
    expect(resetMs).toBeGreaterThanOrEqual(1_000);
    expect(resetMs).toBeLessThanOrEqual(2_000);
    await new Promise((r) => setTimeout(r, resetMs + 100));
    const after = await sendTimes(gw, 3, 'GET', '/api/shop/short');
    expect(statuses(after)).toEqual([200, 200, 429]);
    expect(shop.count).toBe(4);
  });

  it('should hold exactly to the limit under concurrent requests: 20 sent, 5 let through', async () => {
    const replies = await inParallel(20, 10, () => gw.send('GET', '/api/shop/c/concurrent'));
    expect(statuses(replies).filter((s) => s === 200)).toHaveLength(5);
    expect(statuses(replies).filter((s) => s === 429)).toHaveLength(15);
    expect(shop.count).toBe(5);
  });
}

describe('rate limits in memory (e2e)', () => limitSuite('memory'));

describe('rate limits behind one trusted proxy (e2e)', () => {
  const shop = new TestUpstream();
  const orders = new TestUpstream();
  let gw: TestGateway;

  beforeAll(async () => {
    await Promise.all([shop.start(), orders.start()]);
    gw = await startGateway(routes(shop, orders, 1));
  });

  afterAll(async () => {
    await gw?.close();
    await Promise.all([shop.kill(), orders.kill()]);
  });

  it('should count by the address the proxy appended, not by what the client wrote', async () => {
    // Client 203.0.113.1 forges a different leftmost entry each time: still one client.
    const forged = await sendTimes(gw, 6, 'GET', '/api/shop/a', (i) => ({
      'x-forwarded-for': `10.9.9.${i}, 203.0.113.1`,
    }));
    expect(statuses(forged)).toEqual([200, 200, 200, 200, 200, 429]);
    // Another client behind the same proxy has a count of its own.
    const other = await gw.send('GET', '/api/shop/a', {
      headers: { 'x-forwarded-for': '203.0.113.2' },
    });
    expect(other.status).toBe(200);
    // Without the proxy's entry the socket address (127.0.0.1) is the client.
    const direct = await sendTimes(gw, 6, 'GET', '/api/shop/b');
    expect(statuses(direct)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(shop.count).toBe(11);
  });
});

describeWithRedis('rate limits in Redis (e2e)', () => {
  describe('one gateway', () => limitSuite('redis'));

  describe('two gateways sharing Redis', () => {
    const shop = new TestUpstream();
    const orders = new TestUpstream();
    const prefix = testKeyPrefix();
    let a: TestGateway;
    let b: TestGateway;

    beforeAll(async () => {
      await Promise.all([shop.start(), orders.start()]);
      const env = { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix };
      a = await startGateway(routes(shop, orders), env);
      b = await startGateway(routes(shop, orders), env);
    });

    afterAll(async () => {
      await Promise.all([a?.close(), b?.close()]);
      await Promise.all([shop.kill(), orders.kill()]);
      await deleteKeys(TEST_REDIS_URL, prefix);
    });

    it('should share one count: 4 through each, 5 let through in all', async () => {
      const viaA = await sendTimes(a, 4, 'GET', '/api/shop/a');
      const viaB = await sendTimes(b, 4, 'GET', '/api/shop/a');
      expect(statuses(viaA)).toEqual([200, 200, 200, 200]);
      expect(statuses(viaB)).toEqual([200, 429, 429, 429]);
      expect(viaB[0].headers['ratelimit-remaining']).toBe('0');
      expect(shop.count).toBe(5);
    });

    it('should share per-user counts under concurrency: 12 sent to two instances, 3 through', async () => {
      const token = await tokenFor(a, '51');
      const replies = await inParallel(12, 12, (i) =>
        (i % 2 === 0 ? a : b).send('POST', '/api/orders', {
          headers: { authorization: `Bearer ${token}` },
        }),
      );
      expect(statuses(replies).filter((s) => s === 200)).toHaveLength(3);
      expect(statuses(replies).filter((s) => s === 429)).toHaveLength(9);
      expect(orders.count).toBe(3);
    });
  });
});

describeWhen('rate limits when Redis stops (e2e)', redisServerStatus(), () => {
  const shop = new TestUpstream();
  const orders = new TestUpstream();
  const redis = new PrivateRedisServer();
  let gw: TestGateway;

  beforeAll(async () => {
    await redis.start();
    await Promise.all([shop.start(), orders.start()]);
    gw = await startGateway(routes(shop, orders), {
      REDIS_URL: redis.url,
      AUTH_REDIS_TIMEOUT_MS: '200',
    });
  });

  afterAll(async () => {
    await gw?.close();
    await Promise.all([shop.kill(), orders.kill()]);
    await redis.stop();
  });

  it('should let allow-limits through uncounted and refuse deny-limits with 503, then recover', async () => {
    await expect(gw.send('GET', '/api/shop/a')).resolves.toMatchObject({ status: 200 });
    await redis.stop();
    shop.reset();

    const allowed = await sendTimes(gw, 8, 'GET', '/api/shop/a');
    // 8 sent, 8 answered by the upstream: over the limit of 5, because nothing could count them.
    expect(statuses(allowed)).toEqual(new Array(8).fill(200));
    expect(allowed.every((r) => r.headers['ratelimit-limit'] === undefined)).toBe(true);
    expect(shop.count).toBe(8);

    const denied = await sendTimes(gw, 4, 'GET', '/api/shop/strict', (i) => ({
      'x-request-id': `down-${i}`,
    }));
    expect(statuses(denied)).toEqual([503, 503, 503, 503]);
    expect(denied[0].headers['retry-after']).toBe('1');
    expect(denied[0].json).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'rate limiting is temporarily unavailable',
      requestId: 'down-0',
    });
    expect(shop.count).toBe(8);
    expect(Math.max(...denied.map((r) => r.ms))).toBeLessThan(2_000);
    const text = await gw.metrics();
    expect(
      metric(
        text,
        'gateway_rate_limit_decisions_total{service="shop",outcome="store_down_allowed"}',
      ),
    ).toBe(8);
    expect(
      metric(
        text,
        'gateway_rate_limit_decisions_total{service="shop",outcome="store_down_denied"}',
      ),
    ).toBe(4);

    await redis.start();
    let reply: Reply | undefined;
    for (let i = 0; i < 100; i++) {
      reply = await gw.send('GET', '/api/shop/strict');
      if (reply.status === 200) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(reply?.status).toBe(200);
    expect(reply?.headers['ratelimit-limit']).toBe('100');
  });
});
