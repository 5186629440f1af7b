import { Readable } from 'node:stream';
import { LiveConfig } from '../src/proxy/live-config';
import { TestGateway } from './support/test-gateway';
import { echo, TestUpstream } from './support/test-upstream';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('gateway: routing, paths and forwarding', () => {
  const products = new TestUpstream();
  const special = new TestUpstream();
  const users = new TestUpstream();
  const limited = new TestUpstream();
  const web = new TestUpstream();
  const all = [products, special, users, limited, web];
  let gateway: TestGateway;

  beforeAll(async () => {
    await Promise.all(all.map((u) => u.start()));
    gateway = await new TestGateway({
      services: [
        { name: 'products', basePath: '/api/products', targets: [products.origin] },
        { name: 'special', basePath: '/api/products/special', targets: [special.origin] },
        { name: 'users', basePath: '/api/users', targets: [users.origin] },
        {
          name: 'limited',
          basePath: '/api/limited',
          targets: [limited.origin],
          bodyLimitBytes: 1024,
        },
        {
          name: 'web',
          basePath: '/api/web',
          targets: [web.origin],
          cors: {
            origins: ['https://shop.example.com'],
            credentials: true,
            exposeHeaders: ['x-request-id', 'x-total'],
          },
        },
      ],
    }).start();
  });

  afterAll(async () => {
    await Promise.all(all.map((u) => u.kill()));
    await gateway.close();
  });

  beforeEach(() => {
    for (const u of all) {
      u.reset();
      u.behaviour = echo;
    }
  });

  const totalSeen = () => all.reduce((n, u) => n + u.count, 0);

  describe('path canonicalisation', () => {
    it.each([
      ['a dot-dot segment', '/api/products/../users/1'],
      ['a trailing dot-dot segment', '/api/products/a/..'],
      ['a dot segment', '/api/products/./1'],
      ['an encoded dot-dot', '/api/products/%2e%2e/users'],
      ['an encoded dot', '/api/products/%2E/1'],
      ['an encoded slash', '/api/products%2Fspecial'],
      ['an encoded slash in lower case', '/api/products/a%2fb'],
      ['an encoded backslash', '/api/products/a%5Cb'],
      ['an encoded backslash in lower case', '/api/products/a%5cb'],
      ['a raw backslash', '/api/products/a\\b'],
      ['an encoded NUL', '/api/products/a%00b'],
      ['invalid percent-encoding', '/api/products/a%zzb'],
      ['a truncated escape', '/api/products/a%4'],
      ['an empty segment', '/api/products//1'],
      ['a leading empty segment', '//api/products/1'],
      ['a fragment', '/api/products/1#x'],
    ])('should refuse %s with 400 before any upstream sees it', async (_case, path) => {
      const res = await gateway.send('GET', path);
      expect(res.status).toBe(400);
      expect(res.json).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: expect.any(String),
        requestId: res.headers['x-request-id'],
      });
      expect(totalSeen()).toBe(0);
    });

    it('should refuse a raw NUL in the request line with 400', async () => {
      const status = await gateway.raw('GET /api/products/a\u0000b HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(status).toBe(400);
      expect(totalSeen()).toBe(0);
    });

    it('should refuse a dot-dot segment on the gateway own paths too', async () => {
      const res = await gateway.send('GET', '/metrics/../health/live');
      expect(res.status).toBe(400);
    });

    it('should decode escaped unreserved characters and normalise other escapes', async () => {
      const res = await gateway.send('GET', '/api/users/%41b%7e/a%20b/%c3%a9?q=%2F');
      expect(res.status).toBe(200);
      expect(users.seen.map((s) => s.url)).toEqual(['/Ab~/a%20b/%C3%A9?q=%2F']);
    });
  });

  describe('route matching', () => {
    it.each([
      ['a path that only shares a prefix', '/api/productsX'],
      ['a path in another case', '/API/products/1'],
      ['a base path in another case', '/api/Products/1'],
      ['an unknown path', '/nowhere'],
    ])('should answer 404 in the shared error shape for %s', async (_case, path) => {
      const res = await gateway.send('GET', path);
      expect(res.status).toBe(404);
      expect(res.json).toEqual({
        statusCode: 404,
        error: 'Not Found',
        message: expect.any(String),
        requestId: res.headers['x-request-id'],
      });
      expect(totalSeen()).toBe(0);
    });

    it('should strip the base path and keep the query', async () => {
      await gateway.send('GET', '/api/users/123?x=1&y=%20');
      await gateway.send('GET', '/api/users');
      await gateway.send('GET', '/api/users/');
      await gateway.send('GET', '/api/users?page=2');
      expect(users.seen.map((s) => `${s.method} ${s.url}`)).toEqual([
        'GET /123?x=1&y=%20',
        'GET /',
        'GET /',
        'GET /?page=2',
      ]);
    });

    it('should prefer the longest base path, on segment boundaries', async () => {
      await gateway.send('GET', '/api/products/special/9');
      await gateway.send('GET', '/api/products/specialX');
      await gateway.send('GET', '/api/products/special');
      expect(special.seen.map((s) => s.url)).toEqual(['/9', '/']);
      expect(products.seen.map((s) => s.url)).toEqual(['/specialX']);
    });

    it.each([
      '/api/users/internal',
      '/api/users/internal/',
      '/api/users/internal/credentials',
      '/api/users/Internal/credentials',
      '/api/users/INTERNAL',
      '/api/users/%69nternal/credentials',
    ])('should never forward %s under /internal', async (path) => {
      const res = await gateway.send('POST', path, {
        headers: { 'content-type': 'application/json' },
        body: '{"email":"a@b.c"}',
      });
      expect(res.status).toBe(404);
      expect(res.json.statusCode).toBe(404);
      expect(totalSeen()).toBe(0);
    });

    it.each(['/api/users/docs-json', '/api/products/docs-json', '/api/users/Docs-JSON/'])(
      "should never forward %s, a service's raw OpenAPI document",
      async (path) => {
        const res = await gateway.send('GET', path);
        expect(res.status).toBe(404);
        expect(res.json.statusCode).toBe(404);
        expect(totalSeen()).toBe(0);
      },
    );

    it.each([
      ['GET', '/api/users/metrics'],
      ['GET', '/api/products/metrics'],
      ['GET', '/api/products/Metrics/'],
      ['GET', '/api/products/%6Detrics'],
      ['POST', '/api/users/METRICS'],
    ])("should never forward %s %s, a service's Prometheus metrics", async (method, path) => {
      const res = await gateway.send(method, path);
      expect(res.status).toBe(404);
      expect(res.json.statusCode).toBe(404);
      expect(totalSeen()).toBe(0);
    });

    it('should forward a segment that merely starts with "metrics"', async () => {
      const res = await gateway.send('GET', '/api/products/metricsx');
      expect(res.status).toBe(200);
      expect(products.seen.map((s) => s.url)).toEqual(['/metricsx']);
    });

    it('should forward a segment that merely starts with "internal"', async () => {
      const res = await gateway.send('GET', '/api/users/internals');
      expect(res.status).toBe(200);
      expect(users.seen.map((s) => s.url)).toEqual(['/internals']);
    });

    it('should give the route lookup the resolved auth policy', () => {
      const table = gateway.get(LiveConfig).current.routes;
      const canonical = { ok: true as const, path: '/api/users/5', query: '' };
      expect(table.resolve(canonical, 'GET')).toMatchObject({
        path: '/5',
        policy: { kind: 'authenticated' },
        fenced: false,
      });
    });
  });

  describe('forwarding', () => {
    it('should preserve method, status, headers and body both ways', async () => {
      users.behaviour = (_req, res, seen) => {
        res.writeHead(201, 'Made It', {
          'content-type': 'text/plain',
          'x-custom': 'kept',
          'set-cookie': ['a=1', 'b=2'],
        });
        res.end(`got ${seen.method} ${seen.body}`);
      };
      const res = await gateway.sendWithNode(
        'PUT',
        '/api/users/7',
        { 'content-type': 'text/plain', 'x-client': 'yes' },
        'hello body',
      );
      expect(res.status).toBe(201);
      expect(res.text).toBe('got PUT hello body');
      expect(res.headers['x-custom']).toBe('kept');
      expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
      expect(users.seen).toHaveLength(1);
      expect(users.seen[0]).toMatchObject({ method: 'PUT', url: '/7', body: 'hello body' });
      expect(users.seen[0].headers['x-client']).toBe('yes');
    });

    it('should stream a large response through unchanged', async () => {
      const big = Buffer.alloc(3 * 1024 * 1024, 'abcdefgh');
      users.behaviour = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        let sent = 0;
        const step = () => {
          while (sent < big.length) {
            const chunk = big.subarray(sent, sent + 65536);
            sent += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', step);
              return;
            }
          }
          res.end();
        };
        step();
      };
      const res = await gateway.send('GET', '/api/users/big');
      expect(res.status).toBe(200);
      expect(res.text.length).toBe(big.length);
      expect(res.text === big.toString()).toBe(true);
    });

    it('should remove hop-by-hop request headers and the headers Connection names', async () => {
      const status = await gateway.raw(
        [
          'GET /api/users/hop HTTP/1.1',
          'Host: gateway.test',
          'Connection: keep-alive, X-Hop-Secret',
          'X-Hop-Secret: drop me',
          'Keep-Alive: timeout=5',
          'TE: trailers',
          'Trailer: x-late',
          'Upgrade: h2c',
          'Proxy-Authorization: Basic Zm9vOmJhcg==',
          'Proxy-Anything: x',
          'X-Kept: yes',
          '',
          '',
        ].join('\r\n'),
      );
      expect(status).toBe(200);
      const headers = users.seen[0].headers;
      for (const name of [
        'x-hop-secret',
        'keep-alive',
        'te',
        'trailer',
        'upgrade',
        'proxy-authorization',
        'proxy-anything',
        'transfer-encoding',
      ]) {
        expect(headers[name]).toBeUndefined();
      }
      expect(headers.connection).toBe('keep-alive');
      expect(headers['x-kept']).toBe('yes');
    });

    it('should remove hop-by-hop response headers and upstream CORS headers', async () => {
      users.behaviour = (_req, res) => {
        res.writeHead(200, {
          connection: 'keep-alive, X-Up-Hop',
          'x-up-hop': 'drop me',
          'keep-alive': 'timeout=9',
          'proxy-authenticate': 'Basic',
          trailer: 'x-late',
          'access-control-allow-origin': '*',
          'x-kept': 'yes',
        });
        res.addTrailers({ 'x-late': '1' });
        res.end('ok');
      };
      const res = await gateway.send('GET', '/api/users/hop');
      expect(res.status).toBe(200);
      expect(res.headers['x-up-hop']).toBeUndefined();
      expect(res.headers['keep-alive']).not.toBe('timeout=9');
      expect(res.headers['proxy-authenticate']).toBeUndefined();
      expect(res.headers.trailer).toBeUndefined();
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(res.headers['x-kept']).toBe('yes');
      expect(res.text).toBe('ok');
    });

    it('should set X-Forwarded-For, -Proto and -Host and give the upstream its own Host', async () => {
      await gateway.sendWithNode('GET', '/api/users/fwd', {
        host: 'shop.example.com',
        'x-forwarded-for': '203.0.113.7',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'evil.example',
      });
      const headers = users.seen[0].headers;
      expect(headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
      expect(headers['x-forwarded-proto']).toBe('http');
      expect(headers['x-forwarded-host']).toBe('shop.example.com');
      expect(headers.host).toBe(`127.0.0.1:${users.port}`);
    });

    it('should drop identity headers sent by the client', async () => {
      await gateway.sendWithNode('GET', '/api/users/me', {
        'X-User-Id': '1',
        'X-User-Email': 'admin@example.com',
        'X-User-Roles': 'admin',
      });
      const headers = users.seen[0].headers;
      expect(headers['x-user-id']).toBeUndefined();
      expect(headers['x-user-email']).toBeUndefined();
      expect(headers['x-user-roles']).toBeUndefined();
    });

    it('should keep a sane X-Request-Id, send it upstream and echo it', async () => {
      const res = await gateway.send('GET', '/api/users/1', {
        headers: { 'x-request-id': 'trace-42.a:b' },
      });
      expect(res.headers['x-request-id']).toBe('trace-42.a:b');
      expect(users.seen[0].headers['x-request-id']).toBe('trace-42.a:b');
    });

    it('should replace an insane X-Request-Id with a generated one, the same both ways', async () => {
      const res = await gateway.send('GET', '/api/users/1', {
        headers: { 'x-request-id': 'not sane <script>' },
      });
      const id = res.headers['x-request-id'] as string;
      expect(id).toMatch(UUID);
      expect(users.seen[0].headers['x-request-id']).toBe(id);
    });
  });

  describe('body limit', () => {
    const body = (n: number) => 'x'.repeat(n);

    it('should answer 413 for a declared length over the limit without calling upstream', async () => {
      const res = await gateway.send('POST', '/api/limited/orders', {
        headers: { 'content-type': 'text/plain' },
        body: body(2000),
      });
      expect(res.status).toBe(413);
      expect(res.json).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
      expect(limited.count).toBe(0);
    });

    it('should accept a body exactly at the limit', async () => {
      const res = await gateway.send('POST', '/api/limited/orders', { body: body(1024) });
      expect(res.status).toBe(200);
      expect(limited.seen[0].body).toHaveLength(1024);
    });

    /** A body without Content-Length: sent chunked, 256 bytes at a time. */
    function chunked(total: number): Readable {
      return Readable.from(
        (function* () {
          for (let sent = 0; sent < total; sent += 256) yield Buffer.from(body(256));
        })(),
      );
    }

    it('should answer 413 for a chunked POST that grows over the limit', async () => {
      const res = await gateway.send('POST', '/api/limited/orders', { body: chunked(4096) });
      expect(res.status).toBe(413);
      expect(limited.seen.filter((s) => s.complete)).toHaveLength(0);
    });

    it('should answer 413 for a chunked PUT over the limit without calling upstream', async () => {
      const res = await gateway.send('PUT', '/api/limited/orders/1', { body: chunked(4096) });
      expect(res.status).toBe(413);
      expect(limited.count).toBe(0);
    });

    it('should stream a chunked body within the limit', async () => {
      const res = await gateway.send('POST', '/api/limited/orders', { body: chunked(768) });
      expect(res.status).toBe(200);
      expect(limited.seen[0].body).toHaveLength(768);
      expect(limited.seen[0].headers['transfer-encoding']).toBe('chunked');
    });
  });

  describe('CORS', () => {
    const allowed = 'https://shop.example.com';

    it('should allow a listed origin with credentials, never as *', async () => {
      web.behaviour = (_req, res) => {
        res.writeHead(200, { vary: 'Accept-Encoding', 'content-length': '2' });
        res.end('ok');
      };
      const res = await gateway.send('GET', '/api/web/items', { headers: { origin: allowed } });
      expect(res.headers['access-control-allow-origin']).toBe(allowed);
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expect(res.headers['access-control-expose-headers']).toBe('x-request-id, x-total');
      expect(res.headers.vary).toBe('Accept-Encoding, Origin');
    });

    it.each([
      ['an unlisted origin', 'https://evil.example.com'],
      ['a lookalike origin', 'https://shop.example.com.evil.example'],
      ['the null origin', 'null'],
    ])('should not allow %s', async (_case, origin) => {
      const res = await gateway.send('GET', '/api/web/items', { headers: { origin } });
      expect(res.status).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      expect(res.headers.vary).toBe('Origin');
      expect(web.count).toBe(1);
    });

    it('should answer a preflight from a listed origin itself', async () => {
      const res = await gateway.send('OPTIONS', '/api/web/items', {
        headers: {
          origin: allowed,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      });
      expect(res.status).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe(allowed);
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expect(res.headers['access-control-allow-methods']).toContain('POST');
      expect(res.headers['access-control-allow-headers']).toContain('content-type');
      expect(res.headers['access-control-max-age']).toBe('600');
      expect(res.headers.vary).toBe('Origin');
      expect(web.count).toBe(0);
    });

    it.each(['https://evil.example.com', 'null'])(
      'should answer a preflight from %s without allowing it',
      async (origin) => {
        const res = await gateway.send('OPTIONS', '/api/web/items', {
          headers: { origin, 'access-control-request-method': 'DELETE' },
        });
        expect(res.status).toBe(204);
        expect(res.headers['access-control-allow-origin']).toBeUndefined();
        expect(res.headers['access-control-allow-methods']).toBeUndefined();
        expect(web.count).toBe(0);
      },
    );

    it('should forward a plain OPTIONS request that is not a preflight', async () => {
      const res = await gateway.send('OPTIONS', '/api/web/items');
      expect(res.status).toBe(200);
      expect(web.seen.map((s) => s.method)).toEqual(['OPTIONS']);
    });
  });
});
