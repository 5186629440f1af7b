import 'reflect-metadata';
import fc from 'fast-check';
import { IDENTITY_HEADERS } from '@app/contracts';
import { TokenStoreHealthIndicator } from '../src/auth/token-store/token-store.health';
import {
  ADMIN,
  deleteKeys,
  testKeyPrefix,
  USER,
  UserServiceInstance,
} from './support/auth-harness';
import { startAuthGateway as startGateway } from './support/auth-gateway';
import { describeWhen, describeWithRedis, TEST_REDIS_URL } from './support/redis-available';
import { PrivateRedisServer, redisServerStatus } from './support/redis-server';
import { eventually, TestGateway } from './support/test-gateway';
import { TestUpstream } from './support/test-upstream';

/** The system's routes (config/gateway.local.yaml) over test upstreams and the real user-service. */
function routes(products: TestUpstream, users: UserServiceInstance, checkout: TestUpstream) {
  return {
    services: [
      {
        name: 'product-service',
        basePath: '/api/products',
        targets: [products.origin],
        auth: { default: 'role:admin', rules: [{ methods: ['GET', 'HEAD'], policy: 'public' }] },
      },
      {
        name: 'user-service',
        basePath: '/api/users',
        targets: [users.url],
        auth: {
          default: 'authenticated',
          rules: [{ methods: ['POST'], path: '/', policy: 'public' }],
        },
      },
      {
        name: 'checkout-service',
        basePath: '/api/checkout',
        targets: [checkout.origin],
        auth: { default: 'authenticated' },
      },
    ],
  };
}

describe('auth through the proxy (e2e)', () => {
  const users = new UserServiceInstance();
  const products = new TestUpstream();
  const checkout = new TestUpstream();
  let gw: TestGateway;
  let userToken: string;
  let adminToken: string;
  let userId: string;

  const login = async (credentials: { email: string; password: string }) => {
    const res = await gw.send('POST', '/api/auth/login', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(credentials),
    });
    expect(res.status).toBe(200);
    return res.json.accessToken as string;
  };

  beforeAll(async () => {
    await Promise.all([users.start(), products.start(), checkout.start()]);
    gw = await startGateway(routes(products, users, checkout), {
      AUTH_LOGIN_LIMIT_PER_IP: '100000',
      AUTH_LOGIN_LIMIT_PER_EMAIL: '100000',
    });
    userToken = await login(USER);
    adminToken = await login(ADMIN);
    const me = await gw.send('GET', '/api/auth/me', {
      headers: { authorization: `Bearer ${userToken}` },
    });
    userId = me.json.sub as string;
  });

  afterAll(async () => {
    await gw?.close();
    await Promise.all([users.stop(), products.kill(), checkout.kill()]);
  });

  beforeEach(() => {
    products.reset();
    checkout.reset();
  });

  it('should log in through the gateway with the user-service from the route config', () => {
    expect(userToken.split('.')).toHaveLength(3);
  });

  it('should refuse a checkout request without a token with 401 and a Bearer challenge', async () => {
    const res = await gw.send('GET', '/api/checkout/orders', {
      headers: { 'x-request-id': 'rq-1' },
    });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.json).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: 'authentication required',
      requestId: 'rq-1',
    });
    expect(checkout.count).toBe(0);
  });

  it.each([
    '/api/Checkout/x',
    '/API/CHECKOUT/x',
    '/api/checkout/../checkout/x',
    '/api/%63heckout/x',
    '//api/checkout/x',
    '/api/checkout/%2e%2e/checkout/x',
    '/api/checkout%2fx',
    '/api/checkout/x',
    '/api/checkout',
  ])('should never let %s without a token reach the checkout upstream', async (path) => {
    const res = await gw.send('GET', path);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(checkout.count).toBe(0);
  });

  it('should forward the verified identity and drop the identity a client sends', async () => {
    const res = await gw.send('GET', '/api/checkout/orders', {
      headers: {
        authorization: `Bearer ${userToken}`,
        'x-user-id': '1',
        'x-user-email': 'admin@example.com',
        'x-user-roles': 'admin',
      },
    });
    expect(res.status).toBe(200);
    expect(checkout.count).toBe(1);
    const seen = checkout.seen[0].headers;
    expect(seen[IDENTITY_HEADERS.userId]).toBe(userId);
    expect(seen[IDENTITY_HEADERS.email]).toBe('user@example.com');
    expect(seen[IDENTITY_HEADERS.roles]).toBe('user');
    expect(seen.authorization).toBeUndefined();
  });

  it('should drop a spoofed identity on a public route too, and send none', async () => {
    const res = await gw.send('GET', '/api/products/1', {
      headers: { 'x-user-id': '1', 'X-User-Email': 'admin@example.com', 'X-USER-ROLES': 'admin' },
    });
    expect(res.status).toBe(200);
    const seen = products.seen[0].headers;
    for (const name of Object.values(IDENTITY_HEADERS)) expect(seen[name]).toBeUndefined();
  });

  it('should answer 403 to a user writing products and forward an admin with roles', async () => {
    const denied = await gw.send('POST', '/api/products', {
      headers: { authorization: `Bearer ${userToken}`, 'content-type': 'application/json' },
      body: '{"name":"x","price":"1.00"}',
    });
    expect(denied.status).toBe(403);
    expect(denied.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_scope", error_description="requires role admin"',
    );
    expect(products.count).toBe(0);
    const allowed = await gw.send('POST', '/api/products', {
      headers: { authorization: `bearer ${adminToken}`, 'content-type': 'application/json' },
      body: '{"name":"x","price":"1.00"}',
    });
    expect(allowed.status).toBe(200);
    expect(products.seen[0].headers[IDENTITY_HEADERS.roles]).toBe('admin,user');
    expect(products.seen[0].body).toBe('{"name":"x","price":"1.00"}');
  });

  it('should keep registration public', async () => {
    const res = await gw.send('POST', '/api/users', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'New Person',
        email: `new-${Date.now()}@example.com`,
        password: 'new-password-123',
      }),
    });
    expect(res.status).toBe(201);
    const other = await gw.send('GET', '/api/users/1');
    expect(other.status).toBe(401);
  });

  it('should refuse a revoked token on the proxy path', async () => {
    const token = await login(USER);
    const auth = { authorization: `Bearer ${token}` };
    expect((await gw.send('GET', '/api/checkout/orders', { headers: auth })).status).toBe(200);
    expect((await gw.send('POST', '/api/auth/logout', { headers: auth })).status).toBe(204);
    const res = await gw.send('GET', '/api/checkout/orders', { headers: auth });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('error_description="token revoked"');
    expect(checkout.count).toBe(1);
  });

  it('should only ever let requests with a verified token reach checkout (property)', async () => {
    const revoked = await login(USER);
    await gw.send('POST', '/api/auth/logout', { headers: { authorization: `Bearer ${revoked}` } });
    // Near misses of the checkout base path (case, encodings, dot segments, slashes), then noise.
    const base = fc.constantFrom(
      '/api/checkout',
      '/api/checkout/',
      '/API/checkout',
      '/api/Checkout',
      '/api/CHECKOUT',
      '//api/checkout',
      '/api//checkout',
      '/api/./checkout',
      '/api/x/../checkout',
      '/api/%63heckout',
      '/api/check%6fut',
      '/api/%43heckout',
      '/api%2fcheckout',
      '/api%2Fcheckout',
      '/api/checkout%2f..',
      '/api/products/../checkout',
      '/api/checkout/..',
      '/./api/checkout',
      '/api/checkout/../../api/checkout',
      '/api/checkout\\..',
      '/api\\checkout',
      '/api/checkout;',
      '/api/checkout;x',
      '/api/checkout%00',
      '/api/checkoutx',
      '/api/users/../checkout',
      '/api/auth/../checkout',
      '/api/%2e%2e/api/checkout',
      '/api/checkout/%2e%2e',
      '/%2e/api/checkout',
      '/api/checkout%20',
      '/api/checkout%09',
      '/api/checkout/%252e%252e',
      '',
    );
    const segment = fc.constantFrom(
      'x',
      'orders',
      '1',
      '..',
      '.',
      '%2e%2e',
      '%2E',
      '',
      '%2f',
      '%5c',
      ';',
      '%00',
      'checkout',
      'internal',
      '~',
      '%252e',
      'Orders',
      '%ff',
    );
    const path = fc
      .tuple(
        base,
        fc.array(segment, { maxLength: 4 }),
        fc.constantFrom('', '?a=1', '?x=../y', '?%2e'),
      )
      .map(([b, segs, query]) => `${b}${segs.map((s) => `/${s}`).join('')}${query}`);
    const credential = fc.constantFrom(
      { kind: 'none', header: undefined },
      { kind: 'valid', header: `Bearer ${userToken}` },
      { kind: 'valid', header: `bearer ${userToken}` },
      { kind: 'revoked', header: `Bearer ${revoked}` },
      { kind: 'garbage', header: 'Bearer abc.def.ghi' },
      { kind: 'basic', header: 'Basic dXNlcjpwYXNz' },
      { kind: 'spoof', header: undefined, spoof: true },
    );
    let reached = 0;
    await fc.assert(
      fc.asyncProperty(path, credential, async (p, cred) => {
        const before = checkout.count;
        const headers: Record<string, string> = { 'x-user-id': '1', 'x-user-roles': 'admin' };
        if (cred.header) headers.authorization = cred.header;
        let status: number;
        try {
          status = (await gw.send('GET', p, { headers })).status;
        } catch {
          return; // undici refuses to send some paths at all
        }
        const arrived = checkout.seen.slice(before);
        for (const seen of arrived) {
          expect(cred.kind).toBe('valid');
          expect(seen.headers[IDENTITY_HEADERS.userId]).toBe(userId);
          expect(seen.headers[IDENTITY_HEADERS.roles]).toBe('user');
        }
        if (arrived.length > 0) {
          reached++;
          expect(status).toBe(200);
        }
      }),
      { numRuns: 3_000 },
    );
    // Not vacuous: valid tokens on checkout paths do get through.
    expect(reached).toBeGreaterThan(0);
  });
});

describe('login attempts behind a trusted proxy (e2e)', () => {
  const users = new UserServiceInstance();
  const products = new TestUpstream();
  const checkout = new TestUpstream();
  let gw: TestGateway;

  const loginAs = (forwardedFor?: string) =>
    gw.send('POST', '/api/auth/login', {
      headers: {
        'content-type': 'application/json',
        ...(forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }),
      },
      body: JSON.stringify(USER),
    });

  beforeAll(async () => {
    await Promise.all([users.start(), products.start(), checkout.start()]);
    gw = await startGateway(
      { ...routes(products, users, checkout), trustedProxyHops: 1 },
      {
        AUTH_LOGIN_LIMIT_PER_IP: '2',
        AUTH_LOGIN_LIMIT_PER_EMAIL: '100',
        AUTH_LOGIN_WINDOW_SECONDS: '60',
      },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await Promise.all([users.stop(), products.kill(), checkout.kill()]);
  });

  it('should count the address the proxy appended, not what the client wrote or the socket', async () => {
    // Client 203.0.113.1 forges a different leftmost entry each time: still one client.
    const forged: number[] = [];
    for (let i = 0; i < 3; i++) forged.push((await loginAs(`10.9.9.${i}, 203.0.113.1`)).status);
    expect(forged).toEqual([200, 200, 429]);
    // Another client behind the same proxy (same socket address) has attempts of its own.
    const other: number[] = [];
    for (let i = 0; i < 3; i++) other.push((await loginAs('203.0.113.2')).status);
    expect(other).toEqual([200, 200, 429]);
    const refused = await loginAs('203.0.113.2');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(55);
    // Without the proxy's entry the socket address (127.0.0.1) is the client, with its own count.
    await expect(loginAs()).resolves.toMatchObject({ status: 200 });
  });
});

describeWhen('auth through the proxy when Redis stops (e2e)', redisServerStatus(), () => {
  const users = new UserServiceInstance();
  const products = new TestUpstream();
  const checkout = new TestUpstream();
  const redisServer = new PrivateRedisServer();
  let gw: TestGateway;

  beforeAll(async () => {
    await Promise.all([users.start(), products.start(), checkout.start(), redisServer.start()]);
    gw = await startGateway(routes(products, users, checkout), {
      REDIS_URL: redisServer.url,
      AUTH_REDIS_TIMEOUT_MS: '200',
    });
  });

  afterAll(async () => {
    await gw?.close();
    await Promise.all([users.stop(), products.kill(), checkout.kill(), redisServer.stop()]);
  });

  it('should keep public routes working and refuse protected ones with 503', async () => {
    const login = await gw.send('POST', '/api/auth/login', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(USER),
    });
    expect(login.status).toBe(200);
    const auth = { authorization: `Bearer ${login.json.accessToken as string}` };
    expect((await gw.send('GET', '/api/checkout/orders', { headers: auth })).status).toBe(200);

    await redisServer.stop();
    checkout.reset();
    products.reset();
    const statuses = { public: [] as number[], protected: [] as number[] };
    for (let i = 0; i < 20; i++) {
      statuses.public.push((await gw.send('GET', '/api/products/1')).status);
      statuses.protected.push(
        (await gw.send('GET', '/api/checkout/orders', { headers: auth })).status,
      );
    }
    expect(statuses.public).toEqual(new Array(20).fill(200));
    expect(statuses.protected).toEqual(new Array(20).fill(503));
    expect(products.count).toBe(20);
    expect(checkout.count).toBe(0);

    const ready = await gw.send('GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.json.details.tokenStore).toMatchObject({ store: 'redis', reachable: false });
  });
});

describeWithRedis('auth through two gateways sharing Redis (e2e)', () => {
  const users = new UserServiceInstance();
  const products = new TestUpstream();
  const checkout = new TestUpstream();
  const prefix = testKeyPrefix();
  const gateways: TestGateway[] = [];

  beforeAll(async () => {
    await Promise.all([users.start(), products.start(), checkout.start()]);
    for (let i = 0; i < 2; i++) {
      gateways.push(
        await startGateway(routes(products, users, checkout), {
          REDIS_URL: TEST_REDIS_URL,
          REDIS_KEY_PREFIX: prefix,
          AUTH_TOKEN_CACHE: 'true',
        }),
      );
    }
    for (const gw of gateways) {
      await eventually(async () => {
        const health = await gw.get(TokenStoreHealthIndicator).check();
        return (health.tokenStore as { revocationCache?: string }).revocationCache === 'on';
      });
    }
  });

  afterAll(async () => {
    for (const gw of gateways) await gw.close();
    await Promise.all([users.stop(), products.kill(), checkout.kill()]);
    await deleteKeys(TEST_REDIS_URL, prefix);
  });

  it('should refuse on the second gateway, within 1 s, a token logged out on the first', async () => {
    const [first, second] = gateways;
    const login = await first.send('POST', '/api/auth/login', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    });
    const auth = { authorization: `Bearer ${login.json.accessToken as string}` };
    for (let i = 0; i < 3; i++) {
      expect((await second.send('GET', '/api/checkout/orders', { headers: auth })).status).toBe(
        200,
      );
    }
    expect((await first.send('POST', '/api/auth/logout', { headers: auth })).status).toBe(204);
    const loggedOut = Date.now();
    let status = 200;
    while (status !== 401 && Date.now() - loggedOut < 3_000) {
      status = (await second.send('GET', '/api/checkout/orders', { headers: auth })).status;
    }
    expect(status).toBe(401);
    expect(Date.now() - loggedOut).toBeLessThan(1_000);
  });
});
