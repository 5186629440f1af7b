import 'reflect-metadata';
import type { ServerResponse } from 'node:http';
import { TEST_SECRET } from './support/auth-fixtures';
import { startAuthGateway } from './support/auth-gateway';
import { ADMIN, USER, UserServiceInstance } from './support/auth-harness';
import { DASHBOARD_CSP } from '../src/admin/dashboard.controller';
import type { ServiceStatus } from '../src/admin/status.service';
import { parseGatewayConfig } from '../src/routing/gateway-config.loader';
import { GatewayConfigSchema, ServiceSchema } from '../src/routing/gateway-config.schema';
import { eventually, metric, Reply, TestGateway } from './support/test-gateway';
import { TestUpstream } from './support/test-upstream';

/** The gateway with its real auth, the real user-service for sign-in and test upstreams elsewhere. */
function routes(upstreams: {
  users: UserServiceInstance;
  products: TestUpstream[];
  inventory: TestUpstream[];
  reports: TestUpstream;
  audit: TestUpstream;
}) {
  const open = { default: 'public' };
  return {
    defaults: {
      activeHealth: { intervalMs: 100, timeoutMs: 500 },
      retry: { attempts: 3, backoffBaseMs: 1, backoffMaxMs: 5 },
    },
    services: [
      {
        name: 'product-service',
        basePath: '/api/products',
        targets: upstreams.products.map((u) => u.origin),
        auth: open,
      },
      {
        name: 'user-service',
        basePath: '/api/users',
        targets: [upstreams.users.url],
        auth: {
          default: 'authenticated',
          rules: [{ methods: ['POST'], path: '/', policy: 'public' }],
        },
      },
      {
        // Passive health alone, so that a dead target is ejected rather than found down.
        name: 'inventory-service',
        basePath: '/api/inventory',
        targets: upstreams.inventory.map((u) => u.origin),
        activeHealth: { enabled: false },
        passiveHealth: { failures: 2, cooldownMs: 60_000, maxCooldownMs: 60_000 },
        auth: open,
      },
      {
        name: 'report-service',
        basePath: '/api/reports',
        targets: [upstreams.reports.origin],
        auth: open,
      },
      {
        name: 'audit-service',
        basePath: '/api/audit',
        targets: [upstreams.audit.origin],
        auth: open,
        rateLimits: [{ methods: ['POST'], limit: 10_000, windowSeconds: 60, by: 'ip' }],
      },
    ],
  };
}

describe('admin status API (e2e)', () => {
  const users = new UserServiceInstance();
  const products = [new TestUpstream(), new TestUpstream()];
  const inventory = [new TestUpstream(), new TestUpstream()];
  /** Holds every response until the test lets it go. */
  const held: ServerResponse[] = [];
  const reports = new TestUpstream((_req, res) => {
    held.push(res);
  });
  const audit = new TestUpstream((req, res) => {
    res.writeHead(req.url === '/fail' ? 500 : 200, { 'content-type': 'text/plain' });
    res.end('audit');
  });
  let gw: TestGateway;
  let adminToken: string;
  let userToken: string;

  const login = async (credentials: { email: string; password: string }): Promise<string> => {
    const res = await gw.send('POST', '/api/auth/login', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(credentials),
    });
    expect(res.status).toBe(200);
    return res.json.accessToken as string;
  };

  const status = (token = adminToken): Promise<Reply> =>
    gw.send('GET', '/api/admin/status', { headers: { authorization: `Bearer ${token}` } });

  const serviceOf = async (name: string): Promise<ServiceStatus> => {
    const res = await status();
    expect(res.status).toBe(200);
    const service = (res.json.services as ServiceStatus[]).find((s) => s.name === name);
    if (!service) throw new Error(`${name} is missing from the status report`);
    return service;
  };

  beforeAll(async () => {
    await Promise.all([
      users.start(),
      ...products.map((u) => u.start()),
      ...inventory.map((u) => u.start()),
      reports.start(),
      audit.start(),
    ]);
    gw = await startAuthGateway(routes({ users, products, inventory, reports, audit }));
    adminToken = await login(ADMIN);
    userToken = await login(USER);
  });

  afterAll(async () => {
    for (const res of held) res.destroy();
    await gw?.close();
    await Promise.all([
      users.stop(),
      ...products.map((u) => u.kill()),
      ...inventory.map((u) => u.kill()),
      reports.kill(),
      audit.kill(),
    ]);
  });

  it('should refuse a request without a token with 401 and a Bearer challenge', async () => {
    const res = await gw.send('GET', '/api/admin/status');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.json).toMatchObject({ statusCode: 401, message: 'authentication required' });
  });

  it('should refuse a signed-in user without the admin role with 403', async () => {
    const res = await status(userToken);
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ statusCode: 403, error: 'Forbidden' });
  });

  it('should report every service of the config with its targets, and the config itself', async () => {
    const res = await status();
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const report = res.json;
    expect(Date.parse(report.generatedAt)).not.toBeNaN();
    expect(report.services.map((s: { name: string }) => s.name)).toEqual([
      'product-service',
      'user-service',
      'inventory-service',
      'report-service',
      'audit-service',
    ]);
    const product = report.services[0];
    expect(product).toMatchObject({
      basePath: '/api/products',
      balancer: 'round-robin',
      healthy: 2,
      total: 2,
      inFlight: 0,
      ejections: 0,
      tunnels: 0,
      traffic: { windowSeconds: expect.any(Number), requests: 0, errors: 0, retries: 0 },
    });
    expect(Object.keys(product.targets[0]).sort()).toEqual([
      'consecutiveFailures',
      'cooldownRemainingMs',
      'ejected',
      'ejectedUntil',
      'ejections',
      'healthy',
      'inFlight',
      'lastCheck',
      'origin',
      'state',
    ]);
    expect(
      product.targets.map((t: { origin: string; state: string }) => [t.origin, t.state]),
    ).toEqual([
      [products[0].origin, 'up'],
      [products[1].origin, 'up'],
    ]);

    expect(report.config.services).toHaveLength(5);
    expect(report.config.services[2]).toEqual({
      name: 'inventory-service',
      basePath: '/api/inventory',
      targets: inventory.map((u) => u.origin),
      timeouts: { connectMs: 1000, perTryMs: 5000, idleMs: 60000 },
      retry: { attempts: 3, backoffBaseMs: 1, backoffMaxMs: 5 },
      bodyLimitBytes: 1048576,
      connectionsPerTarget: 256,
      balancer: 'round-robin',
      websocket: false,
      idempotencyKeys: false,
      passiveHealth: { failures: 2, cooldownMs: 60000, maxCooldownMs: 60000 },
      activeHealth: { enabled: false, path: '/health/ready', intervalMs: 100, timeoutMs: 500 },
      discovery: { enabled: false, intervalMs: 5000 },
      cors: null,
      auth: { default: 'public', rules: [] },
      cache: null,
      rateLimits: [],
    });
    // Every field the loader produces is reported (the dense index aside).
    const loaded = parseGatewayConfig(routes({ users, products, inventory, reports, audit }));
    for (const [i, service] of loaded.services.entries()) {
      const fields = Object.keys(service).filter((key) => key !== 'index');
      expect(Object.keys(report.config.services[i]).sort()).toEqual(fields.sort());
    }
    expect(Object.keys(report.config).sort()).toEqual(Object.keys(loaded).sort());
    // ... which are the keys of the config schema, in its order (`defaults` is in every service).
    for (const service of report.config.services as Record<string, unknown>[]) {
      expect(Object.keys(service)).toEqual(Object.keys(ServiceSchema.properties));
    }
    expect(Object.keys(report.config).sort()).toEqual(
      [
        ...Object.keys(GatewayConfigSchema.properties).filter((k) => k !== 'defaults'),
        'source',
      ].sort(),
    );
    expect(report.config.trustedProxyHops).toBe(0);
    expect(report.config.websockets).toEqual({
      maxTunnels: 10_000,
      maxTunnelsPerUser: 100,
      idleTimeoutMs: 300_000,
    });
    expect(report.config.services[4].rateLimits).toEqual([
      {
        methods: ['POST'],
        path: null,
        pathPrefix: null,
        limit: 10_000,
        windowSeconds: 60,
        by: 'ip',
        onStoreDown: expect.any(String),
      },
    ]);
    expect(report.config.services[1].auth).toEqual({
      default: 'authenticated',
      rules: [{ methods: ['POST'], path: '/', pathPrefix: null, policy: 'public' }],
    });
    expect(report.config.source).toMatch(/gateway\.yaml$/);
    expect(res.text).not.toContain(TEST_SECRET);
  });

  it('should show the time and result of the last active check, and a target failing it as down', async () => {
    await eventually(async () => {
      const product = await serviceOf('product-service');
      return product.targets.every((t) => t.lastCheck !== null);
    });
    const before = await serviceOf('product-service');
    expect(before.targets[1].lastCheck?.up).toBe(true);
    expect(Date.now() - Date.parse(before.targets[1].lastCheck?.at ?? '')).toBeLessThan(10_000);

    products[1].healthy = false;
    try {
      await eventually(async () => (await serviceOf('product-service')).healthy === 1);
      const down = await serviceOf('product-service');
      expect(down.targets[1]).toMatchObject({ state: 'down', healthy: false, ejected: false });
      expect(down.targets[1].lastCheck?.up).toBe(false);
      expect(down.targets[0]).toMatchObject({ state: 'up', healthy: true });
    } finally {
      products[1].healthy = true;
    }
    await eventually(async () => (await serviceOf('product-service')).healthy === 2);
  });

  it('should show a target ejected after it died, with its cooldown and the retries it caused', async () => {
    const dead = inventory[1];
    const port = dead.port;
    await dead.kill();
    try {
      const replies: Reply[] = [];
      for (let i = 0; i < 10; i++) replies.push(await gw.send('GET', `/api/inventory/items/${i}`));
      expect(replies.map((r) => r.status)).toEqual(new Array(10).fill(200));
      expect(inventory[0].count).toBe(10);

      const service = await serviceOf('inventory-service');
      expect(service).toMatchObject({ healthy: 1, total: 2, ejections: 1 });
      expect(service.traffic).toMatchObject({ requests: 10, errors: 0, errorRate: 0, retries: 2 });
      expect(service.traffic.totals).toEqual({ requests: 10, errors: 0, retries: 2 });
      const ejected = service.targets[1];
      expect(ejected).toMatchObject({
        origin: `http://127.0.0.1:${port}`,
        state: 'ejected',
        healthy: false,
        ejected: true,
        ejections: 1,
        consecutiveFailures: 0,
        inFlight: 0,
        lastCheck: null,
      });
      expect(ejected.cooldownRemainingMs).toBeGreaterThan(30_000);
      expect(ejected.cooldownRemainingMs).toBeLessThanOrEqual(60_000);
      expect(Date.parse(ejected.ejectedUntil ?? '') - Date.now()).toBeGreaterThan(30_000);
      expect(service.targets[0]).toMatchObject({ state: 'up', ejections: 0 });
      expect(
        metric(
          await gw.metrics(),
          `gateway_upstream_ejections_total{service="inventory-service",target="http://127.0.0.1:${port}"}`,
        ),
      ).toBe(1);
    } finally {
      await dead.start(port);
    }
  });

  it('should count the requests in flight on a slow target, and none once answered', async () => {
    const pending = [1, 2, 3].map((i) => gw.send('GET', `/api/reports/${i}`));
    await eventually(() => held.length === 3);
    const busy = await serviceOf('report-service');
    expect(busy.inFlight).toBe(3);
    expect(busy.targets[0].inFlight).toBe(3);
    expect(busy.traffic.requests).toBe(0);

    for (const res of held.splice(0)) res.end('done');
    const replies = await Promise.all(pending);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(reports.count).toBe(3);
    const idle = await serviceOf('report-service');
    expect(idle.inFlight).toBe(0);
    expect(idle.targets[0].inFlight).toBe(0);
    expect(idle.traffic).toMatchObject({ requests: 3, errors: 0 });
    expect(idle.traffic.p99Ms).toEqual(expect.any(Number));
  });

  it('should free the in-flight count of a request whose client left', async () => {
    const controller = new AbortController();
    const gone = fetch(`${gw.origin}/api/reports/left`, { signal: controller.signal });
    await eventually(() => held.length === 1);
    expect((await serviceOf('report-service')).inFlight).toBe(1);
    controller.abort();
    await expect(gone).rejects.toThrow();
    await eventually(async () => (await serviceOf('report-service')).inFlight === 0);
    held.splice(0).forEach((res) => res.destroy());
  });

  it('should report the recent error rate and p99 of a service', async () => {
    const paths = ['/ok', '/ok', '/fail', '/ok', '/ok', '/ok', '/fail', '/ok'];
    const replies: Reply[] = [];
    for (const path of paths) replies.push(await gw.send('GET', `/api/audit${path}`));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 500, 200, 200, 200, 500, 200]);
    expect(audit.count).toBe(8);

    const service = await serviceOf('audit-service');
    expect(service.traffic).toMatchObject({ requests: 8, errors: 2, errorRate: 0.25, retries: 0 });
    expect(service.traffic.p99Ms).toBeGreaterThan(0);
    expect(service.traffic.requestsPerSecond).toBeGreaterThan(0);
    expect(service.targets[0]).toMatchObject({ state: 'up', ejections: 0 });
  });

  it('should serve the dashboard page and its files with a strict Content-Security-Policy', async () => {
    const page = await gw.send('GET', '/dashboard');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).not.toContain('unsafe-inline');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.text).toContain('<script src="/dashboard/dashboard.js" defer></script>');
    expect(page.text).not.toMatch(/<script>|<style>| on[a-z]+="/);

    const script = await gw.send('GET', '/dashboard/dashboard.js');
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.text).toContain('/api/admin/status');
    const style = await gw.send('GET', '/dashboard/dashboard.css');
    expect(style.status).toBe(200);
    expect(style.headers['content-type']).toBe('text/css; charset=utf-8');

    expect((await gw.send('GET', '/dashboard/admin.module.js')).status).toBe(404);
    expect((await gw.send('GET', '/dashboard/%2e%2e%2fstatus.service.ts')).status).toBe(400);
  });

  it('should keep /api/admin and /dashboard out of reach of any route config', () => {
    const cases: [basePath: string, reserved: string][] = [
      ['/api/admin', '/api/admin'],
      ['/api/admin/jobs', '/api/admin'],
      ['/dashboard', '/dashboard'],
      ['/dashboard/x', '/dashboard'],
    ];
    for (const [basePath, reserved] of cases) {
      const config = { services: [{ name: 'svc', basePath, targets: ['http://127.0.0.1:1'] }] };
      expect(() => parseGatewayConfig(config)).toThrow(
        `services[0].basePath: overlaps ${reserved}, which the gateway serves itself`,
      );
    }
  });
});
