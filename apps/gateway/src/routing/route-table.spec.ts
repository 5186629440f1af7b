import { parseGatewayConfig } from './gateway-config.loader';
import { CanonicalPath } from './path-canonicalizer';
import { RouteTable } from './route-table';

const path = (p: string, query = ''): CanonicalPath => ({ ok: true, path: p, query });

describe('RouteTable', () => {
  const table = new RouteTable(
    parseGatewayConfig({
      services: [
        {
          name: 'products',
          basePath: '/api/products',
          targets: ['http://127.0.0.1:1'],
          auth: {
            default: 'role:admin',
            rules: [
              { methods: ['GET', 'HEAD'], policy: 'public' },
              { pathPrefix: '/reports', policy: 'role:auditor' },
            ],
          },
        },
        {
          name: 'special',
          basePath: '/api/products/special',
          targets: ['http://127.0.0.1:2'],
          auth: { default: 'public' },
        },
        {
          name: 'users',
          basePath: '/api/users',
          targets: ['http://127.0.0.1:3'],
          auth: { rules: [{ methods: ['POST'], path: '/', policy: 'public' }] },
        },
      ],
    }),
  );

  it('should strip the base path', () => {
    expect(table.resolve(path('/api/users/123'), 'GET')?.path).toBe('/123');
    expect(table.resolve(path('/api/users'), 'GET')?.path).toBe('/');
  });

  it('should match on segment boundaries only, case-sensitively', () => {
    expect(table.resolve(path('/api/usersX'), 'GET')).toBeUndefined();
    expect(table.resolve(path('/api/Users/1'), 'GET')).toBeUndefined();
    expect(table.resolve(path('/api'), 'GET')).toBeUndefined();
  });

  it('should prefer the longest base path', () => {
    expect(table.resolve(path('/api/products/special/1'), 'GET')?.service.name).toBe('special');
    expect(table.resolve(path('/api/products/specials'), 'GET')?.service.name).toBe('products');
  });

  it('should resolve the first matching rule, else the default', () => {
    const policy = (p: string, method: string) => table.resolve(path(p), method)?.policy;
    expect(policy('/api/products/1', 'GET')).toEqual({ kind: 'public' });
    expect(policy('/api/products/1', 'DELETE')).toEqual({ kind: 'role', role: 'admin' });
    expect(policy('/api/products/reports/q1', 'POST')).toEqual({ kind: 'role', role: 'auditor' });
    expect(policy('/api/products/reports/q1', 'GET')).toEqual({ kind: 'public' });
    expect(policy('/api/products/reportsX', 'POST')).toEqual({ kind: 'role', role: 'admin' });
    expect(policy('/api/users', 'POST')).toEqual({ kind: 'public' });
    expect(policy('/api/users/1', 'POST')).toEqual({ kind: 'authenticated' });
    expect(policy('/api/users', 'GET')).toEqual({ kind: 'authenticated' });
  });

  it('should match rule paths without regard to case, as the Express services do', () => {
    expect(table.resolve(path('/api/products/REPORTS/x'), 'POST')?.policy).toEqual({
      kind: 'role',
      role: 'auditor',
    });
  });

  it('should fence every case variant of /internal, /docs-json and /metrics and nothing else', () => {
    const fenced = (p: string) => table.resolve(path(p), 'GET')?.fenced;
    expect(fenced('/api/users/internal')).toBe(true);
    expect(fenced('/api/users/internal/credentials')).toBe(true);
    expect(fenced('/api/users/InTeRnAl/x')).toBe(true);
    expect(fenced('/api/users/docs-json')).toBe(true);
    expect(fenced('/api/users/Docs-JSON')).toBe(true);
    expect(fenced('/api/users/docs-json/')).toBe(true);
    expect(fenced('/api/users/metrics')).toBe(true);
    expect(fenced('/api/users/METRICS/')).toBe(true);
    expect(fenced('/api/users/internals')).toBe(false);
    expect(fenced('/api/users/docs-jsonx')).toBe(false);
    expect(fenced('/api/users/docs')).toBe(false);
    expect(fenced('/api/users/metricsx')).toBe(false);
    expect(fenced('/api/users/x/metrics')).toBe(false);
    expect(fenced('/api/users/x/internal')).toBe(false);
    expect(fenced('/api/users/x/docs-json')).toBe(false);
    expect(fenced('/api/users')).toBe(false);
  });
});

describe('RouteTable: cache and rate limits', () => {
  const table = new RouteTable(
    parseGatewayConfig({
      services: [
        {
          name: 'shop',
          basePath: '/api/shop',
          targets: ['http://127.0.0.1:1'],
          cache: { ttlSeconds: 30 },
          rateLimits: [
            { methods: ['POST'], path: '/orders', limit: 5, windowSeconds: 60, by: 'user' },
            { pathPrefix: '/orders', limit: 50, windowSeconds: 60 },
          ],
        },
        { name: 'plain', basePath: '/api/plain', targets: ['http://127.0.0.1:2'] },
      ],
    }),
  );
  const route = (p: string, method: string) => table.resolve(path(p), method)!;

  it('should give the cache settings to GETs of a cached service only', () => {
    expect(route('/api/shop/items', 'GET').cache).toEqual({
      ttlSeconds: 30,
      maxBodyBytes: 262_144,
    });
    expect(route('/api/shop/items', 'HEAD').cache).toBeNull();
    expect(route('/api/shop/items', 'POST').cache).toBeNull();
    expect(route('/api/plain/items', 'GET').cache).toBeNull();
  });

  it('should resolve every matching limit, comparing paths case-insensitively', () => {
    const limits = (p: string, method: string) =>
      route(p, method).rateLimits?.map((l) => l.limit) ?? null;
    expect(limits('/api/shop/orders', 'POST')).toEqual([5, 50]);
    expect(limits('/api/shop/ORDERS', 'POST')).toEqual([5, 50]);
    expect(limits('/api/shop/orders/7', 'GET')).toEqual([50]);
    expect(limits('/api/shop/ordersX', 'GET')).toBeNull();
    expect(limits('/api/shop/items', 'POST')).toBeNull();
    expect(limits('/api/plain/orders', 'POST')).toBeNull();
  });
});
