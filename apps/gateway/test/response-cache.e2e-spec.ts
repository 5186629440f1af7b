import { createClient } from '@redis/client';
import type { ServerResponse } from 'node:http';
import { startAuthGateway as startGateway, tokenFor } from './support/auth-gateway';
import { deleteKeys, testKeyPrefix } from './support/auth-harness';
import { describeWhen, describeWithRedis, TEST_REDIS_URL } from './support/redis-available';
import { PrivateRedisServer, redisServerStatus } from './support/redis-server';
import { inParallel, metric, Reply, TestGateway } from './support/test-gateway';
import { SeenRequest, TestUpstream } from './support/test-upstream';

/** Answers 200 with a serial number, the path it saw and the caller the gateway vouched for. */
function numbered(upstream: TestUpstream, headers: Record<string, string | string[]> = {}) {
  return (_req: unknown, res: ServerResponse, seen: SeenRequest) => {
    const body = JSON.stringify({
      n: upstream.count,
      url: seen.url,
      user: seen.headers['x-user-id'] ?? null,
    });
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      ...headers,
    });
    res.end(body);
  };
}

function routes(catalog: TestUpstream, account: TestUpstream, plain: TestUpstream) {
  const noActiveHealth = { enabled: false };
  return {
    services: [
      {
        name: 'catalog',
        basePath: '/api/catalog',
        targets: [catalog.origin],
        activeHealth: noActiveHealth,
        cache: { ttlSeconds: 30, maxBodyBytes: 2048 },
        auth: { default: 'public' },
      },
      {
        name: 'account',
        basePath: '/api/account',
        targets: [account.origin],
        activeHealth: noActiveHealth,
        cache: { ttlSeconds: 30 },
        auth: { default: 'authenticated' },
      },
      {
        name: 'plain',
        basePath: '/api/plain',
        targets: [plain.origin],
        activeHealth: noActiveHealth,
        auth: { default: 'public' },
      },
    ],
  };
}

const xCache = (replies: Reply[]) => replies.map((r) => r.headers['x-cache']);
const field = (replies: Reply[], name: string): unknown[] =>
  replies.map((r) => (r.json as Record<string, unknown>)[name]);

/** The same behaviour with the in-memory store and with the shared Redis. */
function cacheSuite(mode: 'memory' | 'redis') {
  const catalog = new TestUpstream();
  const account = new TestUpstream();
  const plain = new TestUpstream();
  const prefix = testKeyPrefix();
  let gw: TestGateway;

  const get = (path: string, headers?: Record<string, string>) => gw.send('GET', path, { headers });
  const getTimes = async (n: number, path: string, headers?: Record<string, string>) => {
    const replies: Reply[] = [];
    for (let i = 0; i < n; i++) replies.push(await get(path, headers));
    return replies;
  };

  beforeAll(async () => {
    await Promise.all([catalog.start(), account.start(), plain.start()]);
    gw = await startGateway(
      routes(catalog, account, plain),
      mode === 'redis' ? { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix } : {},
    );
  });

  afterAll(async () => {
    await gw?.close();
    await Promise.all([catalog.kill(), account.kill(), plain.kill()]);
    if (mode === 'redis') await deleteKeys(TEST_REDIS_URL, prefix);
  });

  beforeEach(() => {
    for (const upstream of [catalog, account, plain]) {
      upstream.reset();
      upstream.behaviour = numbered(upstream);
    }
  });

  it('should answer repeated GETs from the cache: 5 sent, 5 answered, upstream saw 1', async () => {
    const replies = await getTimes(5, '/api/catalog/items/1', { 'x-request-id': 'rq-cache' });
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(xCache(replies)).toEqual(['MISS', 'HIT', 'HIT', 'HIT', 'HIT']);
    expect(new Set(replies.map((r) => r.text)).size).toBe(1);
    expect(replies[0].json).toEqual({ n: 1, url: '/items/1', user: null });
    expect(catalog.count).toBe(1);
    for (const hit of replies.slice(1)) {
      expect(Number(hit.headers.age)).toBeGreaterThanOrEqual(0);
      expect(hit.headers['content-length']).toBe(String(Buffer.byteLength(replies[0].text)));
      expect(hit.headers['content-type']).toBe('application/json');
      expect(hit.headers['x-request-id']).toBe('rq-cache');
    }
  });

  it('should key entries by path and query', async () => {
    const paths = ['/api/catalog/q', '/api/catalog/q?page=1', '/api/catalog/q?page=2'];
    for (const path of paths) await getTimes(2, path);
    expect(catalog.seen.map((s) => s.url)).toEqual(['/q', '/q?page=1', '/q?page=2']);
  });

  it('should not cache routes without a cache block, nor HEAD requests', async () => {
    const replies = await getTimes(3, '/api/plain/items');
    expect(xCache(replies)).toEqual([undefined, undefined, undefined]);
    await gw.send('HEAD', '/api/catalog/head');
    await gw.send('HEAD', '/api/catalog/head');
    expect(plain.count).toBe(3);
    expect(catalog.count).toBe(2);
  });

  it.each([
    ['Cache-Control: no-store', { 'cache-control': 'no-store' }],
    ['Cache-Control: no-cache', { 'cache-control': 'no-cache' }],
    ['Cache-Control: private on a public route', { 'cache-control': 'private, max-age=60' }],
    ['Set-Cookie', { 'set-cookie': 'session=abc' }],
    ['Vary: *', { vary: '*' }],
    ['Vary: Cookie', { vary: 'Cookie' }],
  ])('should never store an answer with %s: 3 sent, upstream saw 3', async (_name, headers) => {
    catalog.behaviour = numbered(catalog, headers);
    const replies = await getTimes(3, '/api/catalog/uncacheable');
    expect(xCache(replies)).toEqual(['MISS', 'MISS', 'MISS']);
    expect(field(replies, 'n')).toEqual([1, 2, 3]);
    expect(catalog.count).toBe(3);
  });

  it('should let max-age shorten the configured TTL', async () => {
    catalog.behaviour = numbered(catalog, { 'cache-control': 'public, max-age=2' });
    const first = await getTimes(2, '/api/catalog/short');
    expect(xCache(first)).toEqual(['MISS', 'HIT']);
    await new Promise((r) => setTimeout(r, 2_100));
    const later = await getTimes(2, '/api/catalog/short');
    expect(xCache(later)).toEqual(['MISS', 'HIT']);
    expect(catalog.count).toBe(2);
  });

  it('should bypass the lookup for a client no-cache and keep the fresh answer', async () => {
    await getTimes(2, '/api/catalog/fresh');
    const refreshed = await get('/api/catalog/fresh', { 'cache-control': 'no-cache' });
    expect(refreshed.headers['x-cache']).toBe('BYPASS');
    expect(refreshed.json.n).toBe(2);
    const after = await get('/api/catalog/fresh');
    expect(after.headers['x-cache']).toBe('HIT');
    expect(after.json.n).toBe(2);
    const noStore = await get('/api/catalog/fresh', { 'cache-control': 'no-store' });
    expect(noStore.headers['x-cache']).toBe('BYPASS');
    expect(noStore.json.n).toBe(3);
    await expect(get('/api/catalog/fresh')).resolves.toMatchObject({ json: { n: 2 } });
    expect(catalog.count).toBe(3);
  });

  it('should stream an answer larger than maxBodyBytes whole and not cache it', async () => {
    const big = 'x'.repeat(10_000);
    catalog.behaviour = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write(big.slice(0, 5_000));
      res.end(big.slice(5_000));
    };
    const replies = await getTimes(2, '/api/catalog/big');
    expect(replies.map((r) => r.text.length)).toEqual([10_000, 10_000]);
    expect(xCache(replies)).toEqual(['MISS', 'MISS']);
    expect(catalog.count).toBe(2);
  });

  it('should drop the service’s entries when a write succeeds, and only then', async () => {
    await getTimes(2, '/api/catalog/items/7');
    await getTimes(2, '/api/plain/x');
    catalog.behaviour = (_req, res, seen) => {
      if (seen.method === 'GET') return numbered(catalog)(_req, res, seen);
      res.writeHead(seen.url === '/fail' ? 500 : 201, { 'content-length': '0' });
      res.end();
    };
    const failed = await gw.send('POST', '/api/catalog/fail', { body: '{}' });
    expect(failed.status).toBe(500);
    await expect(get('/api/catalog/items/7')).resolves.toMatchObject({
      headers: { 'x-cache': 'HIT' },
    });
    const written = await gw.send('PUT', '/api/catalog/items/7', { body: '{}' });
    expect(written.status).toBe(201);
    const after = await getTimes(2, '/api/catalog/items/7');
    expect(xCache(after)).toEqual(['MISS', 'HIT']);
    expect(after[0].json.n).toBe(4);
    // GET, POST (500), PUT (201), GET again.
    expect(catalog.seen.map((s) => s.method)).toEqual(['GET', 'POST', 'PUT', 'GET']);
    const text = await gw.metrics();
    expect(metric(text, 'gateway_cache_invalidations_total{service="catalog"}')).toBe(1);
  });

  it('should never give one user another user’s cached answer (6 users x 3 paths)', async () => {
    const users = ['11', '12', '13', '14', '15', '16'];
    const paths = ['/api/account/me', '/api/account/orders', '/api/account/orders?page=2'];
    const tokens = new Map<string, string>();
    for (const user of users) tokens.set(user, await tokenFor(gw, user));
    const pairs = users.flatMap((user) => paths.map((path) => ({ user, path })));
    const ask = ({ user, path }: { user: string; path: string }) =>
      get(path, { authorization: `Bearer ${tokens.get(user)}` });

    // Every (user, path) once, all at the same time: all misses.
    const first = await inParallel(pairs.length, 8, (i) => ask(pairs[i]));
    // Then each pair three more times in a shuffled order (fixed seed), 8 at a time.
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const repeats = [...pairs, ...pairs, ...pairs]
      .map((pair) => ({ pair, order: random() }))
      .sort((a, b) => a.order - b.order)
      .map(({ pair }) => pair);
    const later = await inParallel(repeats.length, 8, (i) => ask(repeats[i]));

    const check = (reply: Reply, pair: { user: string; path: string }) => {
      expect(reply.status).toBe(200);
      expect(reply.json.user).toBe(pair.user);
      expect(reply.json.url).toBe(pair.path.slice('/api/account'.length));
    };
    first.forEach((reply, i) => check(reply, pairs[i]));
    later.forEach((reply, i) => check(reply, repeats[i]));
    expect(xCache(first)).toEqual(new Array(18).fill('MISS'));
    expect(xCache(later)).toEqual(new Array(54).fill('HIT'));
    // 72 sent, 72 answered, the upstream saw exactly one request per user and path.
    expect(account.count).toBe(18);
    // The same answer for the same user only.
    const byPair = new Map<string, string>();
    first.forEach((reply, i) => byPair.set(`${pairs[i].user} ${pairs[i].path}`, reply.text));
    later.forEach((reply, i) =>
      expect(reply.text).toBe(byPair.get(`${repeats[i].user} ${repeats[i].path}`)),
    );
    // Without a token the route answers 401, from neither the cache nor the upstream.
    await expect(get('/api/account/me')).resolves.toMatchObject({ status: 401 });
    expect(account.count).toBe(18);
  });

  it('should keep a private answer in the per-user entry of an authenticated route', async () => {
    account.behaviour = numbered(account, { 'cache-control': 'private, max-age=60' });
    const [a, b] = [await tokenFor(gw, '21'), await tokenFor(gw, '22')];
    const asA = await getTimes(2, '/api/account/private', { authorization: `Bearer ${a}` });
    const asB = await getTimes(2, '/api/account/private', { authorization: `Bearer ${b}` });
    expect(xCache([...asA, ...asB])).toEqual(['MISS', 'HIT', 'MISS', 'HIT']);
    expect(field([...asA, ...asB], 'user')).toEqual(['21', '21', '22', '22']);
    expect(account.count).toBe(2);
  });
}

describe('response cache in memory (e2e)', () => cacheSuite('memory'));

describeWithRedis('response cache in Redis (e2e)', () => {
  describe('one gateway', () => cacheSuite('redis'));

  describe('two gateways sharing Redis', () => {
    const catalog = new TestUpstream();
    const account = new TestUpstream();
    const plain = new TestUpstream();
    const prefix = testKeyPrefix();
    let a: TestGateway;
    let b: TestGateway;

    beforeAll(async () => {
      await Promise.all([catalog.start(), account.start(), plain.start()]);
      const env = { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix };
      a = await startGateway(routes(catalog, account, plain), env);
      b = await startGateway(routes(catalog, account, plain), env);
      account.behaviour = numbered(account);
      catalog.behaviour = (_req, res, seen) => {
        if (seen.method === 'GET') return numbered(catalog)(_req, res, seen);
        res.writeHead(204);
        res.end();
      };
    });

    afterAll(async () => {
      await Promise.all([a?.close(), b?.close()]);
      await Promise.all([catalog.kill(), account.kill(), plain.kill()]);
      await deleteKeys(TEST_REDIS_URL, prefix);
    });

    it('should share entries and invalidate them on both after a write through one', async () => {
      const path = '/api/catalog/items/3';
      const first = [await a.send('GET', path), await b.send('GET', path)];
      expect(xCache(first)).toEqual(['MISS', 'HIT']);
      const write = await b.send('PATCH', path, { body: '{"price":"9.99"}' });
      expect(write.status).toBe(204);
      // The write's answer ended only after the invalidation reached Redis: A sees it at once.
      const after = [await a.send('GET', path), await b.send('GET', path)];
      expect(xCache(after)).toEqual(['MISS', 'HIT']);
      expect(field(after, 'n')).toEqual([3, 3]);
      expect(catalog.seen.map((s) => s.method)).toEqual(['GET', 'PATCH', 'GET']);
    });

    it('should share per-user entries between instances, still per user', async () => {
      const token = await tokenFor(a, '31');
      const other = await tokenFor(a, '32');
      const viaA = await a.send('GET', '/api/account/me', {
        headers: { authorization: `Bearer ${token}` },
      });
      const viaB = await b.send('GET', '/api/account/me', {
        headers: { authorization: `Bearer ${token}` },
      });
      const otherViaB = await b.send('GET', '/api/account/me', {
        headers: { authorization: `Bearer ${other}` },
      });
      expect(xCache([viaA, viaB, otherViaB])).toEqual(['MISS', 'HIT', 'MISS']);
      expect(field([viaA, viaB, otherViaB], 'user')).toEqual(['31', '31', '32']);
      expect(account.count).toBe(2);
    });
  });
});

describeWhen('response cache when Redis stops (e2e)', redisServerStatus(), () => {
  const catalog = new TestUpstream();
  const account = new TestUpstream();
  const plain = new TestUpstream();
  const redis = new PrivateRedisServer();
  let gw: TestGateway;

  beforeAll(async () => {
    await redis.start();
    await Promise.all([catalog.start(), account.start(), plain.start()]);
    catalog.behaviour = numbered(catalog);
    gw = await startGateway(routes(catalog, account, plain), {
      REDIS_URL: redis.url,
      AUTH_REDIS_TIMEOUT_MS: '200',
    });
  });

  afterAll(async () => {
    await gw?.close();
    await Promise.all([catalog.kill(), account.kill(), plain.kill()]);
    await redis.stop();
  });

  it('should not answer from entries a failed invalidation could not end', async () => {
    catalog.behaviour = (_req, res, seen) => {
      if (seen.method === 'GET') return numbered(catalog)(_req, res, seen);
      res.writeHead(204);
      res.end();
    };
    const before = [await gw.send('GET', '/api/catalog/p'), await gw.send('GET', '/api/catalog/p')];
    expect(xCache(before)).toEqual(['MISS', 'HIT']);
    // Redis keeps answering but refuses INCR: the write's invalidation fails.
    const admin = createClient({ url: redis.url });
    await admin.connect();
    try {
      await admin.sendCommand(['ACL', 'SETUSER', 'default', '-incr']);
      const write = await gw.send('DELETE', '/api/catalog/p');
      expect(write.status).toBe(204);
      // The stale entry is still readable in Redis, but this instance does not serve it.
      const during = await gw.send('GET', '/api/catalog/p');
      expect(during.status).toBe(200);
      expect(during.headers['x-cache']).toBe('MISS');
      expect(during.json.n).toBe(3);
    } finally {
      await admin.sendCommand(['ACL', 'SETUSER', 'default', '+incr']);
      await admin.close();
    }
    // Once the invalidation has gone through, the cache answers again, with fresh entries only.
    let hit: Reply | undefined;
    for (let i = 0; i < 100 && hit === undefined; i++) {
      const reply = await gw.send('GET', '/api/catalog/p');
      if (reply.headers['x-cache'] === 'HIT') hit = reply;
      else await new Promise((r) => setTimeout(r, 50));
    }
    expect(hit?.json.n).toBeGreaterThan(2);
  });

  it('should forward every request uncached while Redis is down and cache again after', async () => {
    catalog.reset();
    catalog.behaviour = numbered(catalog);
    const errors = () =>
      gw
        .metrics()
        .then((text) =>
          metric(text, 'gateway_cache_lookups_total{service="catalog",result="error"}'),
        );
    const errorsBefore = await errors();
    const before = [await gw.send('GET', '/api/catalog/a'), await gw.send('GET', '/api/catalog/a')];
    expect(xCache(before)).toEqual(['MISS', 'HIT']);
    await redis.stop();
    const down: Reply[] = [];
    for (let i = 0; i < 10; i++) down.push(await gw.send('GET', '/api/catalog/a'));
    // 10 sent, 10 answered 200 by the upstream, none from a cache that cannot be reached.
    expect(down.map((r) => r.status)).toEqual(new Array(10).fill(200));
    expect(xCache(down)).toEqual(new Array(10).fill('MISS'));
    expect(catalog.count).toBe(11);
    expect(Math.max(...down.map((r) => r.ms))).toBeLessThan(2_000);
    // A write while Redis is down cannot reach the generation counter: it is retried later.
    catalog.behaviour = (_req, res, seen) => {
      if (seen.method === 'GET') return numbered(catalog)(_req, res, seen);
      res.writeHead(204);
      res.end();
    };
    await expect(gw.send('DELETE', '/api/catalog/a')).resolves.toMatchObject({ status: 204 });
    await expect(errors()).resolves.toBe(errorsBefore + 10);

    await redis.start();
    let hit: Reply | undefined;
    for (let i = 0; i < 100 && hit === undefined; i++) {
      const reply = await gw.send('GET', '/api/catalog/a');
      if (reply.headers['x-cache'] === 'HIT') hit = reply;
      else await new Promise((r) => setTimeout(r, 50));
    }
    expect(hit?.status).toBe(200);
  });
});
