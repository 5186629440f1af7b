import { System } from './support/system';

/** A client's whole journey through the gateway, over real processes of every app. */
describe('system: through the gateway', () => {
  const system = new System();

  beforeAll(() => system.start(), 90_000);
  afterAll(() => system.stop(), 30_000);

  async function call(
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
  ): Promise<{ status: number; body: any }> {
    const res = await fetch(`${system.gateway.url}${path}`, {
      method: init.method ?? 'GET',
      headers: { 'content-type': 'application/json', ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  it('should register, log in, check out, log out and then be refused', async () => {
    const email = `flow-${Date.now()}@example.com`;
    const registered = await call('/api/users', {
      method: 'POST',
      body: { name: 'Flow', email, password: 'flow-password-1' },
    });
    expect(registered.status).toBe(201);

    const login = await call('/api/auth/login', {
      method: 'POST',
      body: { email, password: 'flow-password-1' },
    });
    expect(login.status).toBe(200);
    const auth = { authorization: `Bearer ${login.body.accessToken}` };

    const order = await call('/api/checkout', {
      method: 'POST',
      headers: { ...auth, 'idempotency-key': `flow-${Date.now()}` },
      body: { productId: 2, quantity: 3 },
    });
    expect(order.status).toBe(201);
    expect(order.body).toMatchObject({ userId: registered.body.id, totalPrice: '0.30' });

    const mine = await call('/api/checkout/orders', { headers: auth });
    expect(mine.status).toBe(200);
    expect(mine.body.total).toBe(1);

    expect((await call('/api/auth/logout', { method: 'POST', headers: auth })).status).toBeLessThan(
      300,
    );
    const refused = await call('/api/checkout/orders', { headers: auth });
    expect(refused.status).toBe(401);
  });

  it('should never let a client-sent identity reach a service', async () => {
    const res = await call('/api/checkout/orders', { headers: { 'x-user-id': '1' } });
    expect(res.status).toBe(401);
  });

  it('should document the gateway and all three services in one document at /docs', async () => {
    for (const app of [system.products[0], system.users[0], system.checkout]) {
      const own = await fetch(`${app.url}/docs-json`);
      const title = ((await own.json()) as { info: { title: string } }).info.title;
      expect({ url: app.url, status: own.status, title }).toEqual({
        url: app.url,
        status: 200,
        title: app.app,
      });
    }
    const res = await call('/docs/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body['x-unavailable']).toEqual([]);
    const paths = Object.keys(res.body.paths);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/api/auth/login',
        '/api/admin/status',
        '/api/products/{id}',
        '/api/users/{id}',
        '/api/checkout/orders/{id}',
      ]),
    );
    expect(
      paths.filter((p) => !/^\/api\/(auth|admin|products|users|checkout)(\/|$)/.test(p)),
    ).toEqual([]);
    expect(paths.filter((p) => p.includes('/internal'))).toEqual([]);
    const ui = await fetch(`${system.gateway.url}/docs`);
    expect({ status: ui.status, html: /swagger-ui-bundle\.js/.test(await ui.text()) }).toEqual({
      status: 200,
      html: true,
    });
  });
});
