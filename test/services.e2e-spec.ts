import { System } from './support/system';

/**
 * The services as real processes from the build: replicas sharing their SQLite files, and the
 * checkout service pricing orders through the product and user services.
 */
describe('system: services as real processes', () => {
  const system = new System();
  const ada = { 'x-user-id': '1', 'x-user-roles': 'admin,user' };
  const uma = { 'x-user-id': '2', 'x-user-roles': 'user' };

  beforeAll(() => system.start(), 90_000);
  afterAll(() => system.stop(), 30_000);

  async function call(
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
  ): Promise<{ status: number; body: any; headers: Headers }> {
    const res = await fetch(url, {
      method: init.method ?? 'GET',
      headers: { 'content-type': 'application/json', ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  }

  it('should let the gateway answer liveness', async () => {
    const res = await call(`${system.gateway.url}/health/live`);
    expect(res.status).toBe(200);
  });

  it('should read back on one user replica a user created on the other', async () => {
    const [first, second] = system.users;
    const created = await call(`${first.url}/`, {
      method: 'POST',
      body: { name: 'Replica Reader', email: 'replica@example.com', password: 'long-enough-pw' },
    });
    expect(created.status).toBe(201);
    const id = String(created.body.id);
    const read = await call(`${second.url}/${id}`, { headers: { 'x-user-id': id } });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: created.body.id, email: 'replica@example.com' });
  });

  it('should read back on one product replica a product created on the other', async () => {
    const [first, second] = system.products;
    const created = await call(`${first.url}/`, {
      method: 'POST',
      body: { name: 'Cross replica', price: '2.50' },
    });
    expect(created.status).toBe(201);
    const read = await call(`${second.url}/${created.body.id}`);
    expect(read.body).toEqual({ id: created.body.id, name: 'Cross replica', price: '2.50' });
  });

  it('should price an order exactly from the product service', async () => {
    const product = await call(`${system.products[0].url}/`, {
      method: 'POST',
      body: { name: 'Dime', price: '0.10' },
    });
    const order = await call(`${system.checkout.url}/`, {
      method: 'POST',
      headers: uma,
      body: { productId: product.body.id, quantity: 3 },
    });
    expect(order.status).toBe(201);
    expect(order.body).toMatchObject({
      userId: 2,
      productId: product.body.id,
      quantity: 3,
      unitPrice: '0.10',
      totalPrice: '0.30',
      status: 'CONFIRMED',
    });
  });

  it('should replay an idempotent checkout and create one order only', async () => {
    const headers = { ...ada, 'idempotency-key': `replay-${Date.now()}` };
    const before = await call(`${system.checkout.url}/orders?limit=100`, { headers: ada });
    const first = await call(`${system.checkout.url}/`, {
      method: 'POST',
      headers,
      body: { productId: 1, quantity: 2 },
    });
    const again = await call(`${system.checkout.url}/`, {
      method: 'POST',
      headers,
      body: { productId: 1, quantity: 2 },
    });
    const after = await call(`${system.checkout.url}/orders?limit=100`, { headers: ada });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(after.body.total).toBe(before.body.total + 1);
  });

  it('should refuse JSON nested thousands of levels deep with 400 on every service, not 500', async () => {
    const depth = 5_000;
    // 10 KB of brackets: under every body limit, deep enough to overflow a recursive validator.
    const deep = `{"name":${'['.repeat(depth)}${']'.repeat(depth)},"price":"1.00"}`;
    const targets = [
      { url: `${system.users[0].url}/`, headers: {} },
      { url: `${system.products[0].url}/`, headers: ada },
      { url: `${system.checkout.url}/`, headers: uma },
    ];
    for (const { url, headers } of targets) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: deep,
      });
      const body = (await res.json()) as { message: string };
      expect({ url, status: res.status }).toEqual({ url, status: 400 });
      expect(body.message).toMatch(/nested deeper than \d+ levels/);
    }
  });

  it('should answer 503 and write no order while the product service is down', async () => {
    const before = await call(`${system.checkout.url}/orders?limit=100`, { headers: uma });
    await Promise.all(system.products.map((p) => p.stop()));
    const res = await call(`${system.checkout.url}/`, {
      method: 'POST',
      headers: uma,
      body: { productId: 1, quantity: 1 },
    });
    const after = await call(`${system.checkout.url}/orders?limit=100`, { headers: uma });
    expect(res.status).toBe(503);
    expect(res.body.message).toMatch(/product-service/);
    expect(after.body.total).toBe(before.body.total);
  });
});
