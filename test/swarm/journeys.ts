import { api, ordersOf, signUp } from './http';
import { fetchIn, Task, tasksOf, waitFor } from './swarm-env';

/** The app services behind the gateway and the port each listens on in the stack. */
export const PORTS: Record<string, number> = {
  'product-service': 3001,
  'user-service': 3002,
  'checkout-service': 3005,
};

/**
 * The client journey through the gateway's published port: production mode (no seed accounts or
 * products), the first administrator, sign-up, product list, a keyed checkout and its replay,
 * logout and the refusal after it.
 */
export async function expectClientJourney(
  adminEmail: string,
  adminToken: string,
  productId: number,
): Promise<void> {
  const seeded = await api('POST', '/api/auth/login', {
    body: { email: 'admin@example.com', password: 'admin-password-123' },
  });
  expect(seeded.status).toBe(401);
  const me = await api('GET', '/api/auth/me', { token: adminToken });
  expect(me.status).toBe(200);
  expect(me.body).toMatchObject({ email: adminEmail, roles: ['admin', 'user'] });

  const user = await signUp('journey');
  const list = await api('GET', '/api/products?limit=100');
  expect(list.status).toBe(200);
  const names = (list.body as { items: Array<{ id: number; name: string }> }).items;
  expect(names.map((p) => p.id)).toContain(productId);
  expect(names.map((p) => p.name)).not.toContain('Mechanical keyboard');

  const checkout = () =>
    api('POST', '/api/checkout', {
      token: user.token,
      headers: { 'idempotency-key': `journey-${user.id}` },
      body: { productId, quantity: 3 },
    });
  const first = await checkout();
  expect({ status: first.status, body: first.body }).toMatchObject({ status: 201 });
  expect(first.body).toMatchObject({ userId: user.id, totalPrice: '0.30', status: 'CONFIRMED' });
  const replay = await checkout();
  expect({ status: replay.status, body: replay.body }).toMatchObject({ status: 201 });
  expect(replay.headers.get('idempotency-replayed')).toBe('true');
  expect((replay.body as { id: number }).id).toBe((first.body as { id: number }).id);
  expect((await ordersOf(user.token)).length).toBe(1);

  const logout = await api('POST', '/api/auth/logout', { token: user.token });
  expect(logout.status).toBe(204);
  const refused = await api('GET', '/api/checkout/orders', { token: user.token });
  expect(refused.status).toBe(401);
  expect(refused.body).toMatchObject({ message: 'token revoked' });
}

/** A product priced 0.10 created by the administrator; resolves with its id. */
export async function createProduct(adminToken: string): Promise<number> {
  const product = await api('POST', '/api/products', {
    token: adminToken,
    body: { name: `Swarm cable ${Date.now()}`, price: '0.10' },
  });
  expect(product.status).toBe(201);
  return (product.body as { id: number }).id;
}

/**
 * A user written through one user-service replica is read through the other (both reach the
 * same store), and both gateway replicas list every task address tasks.<service> resolves to.
 */
export async function expectSharedStoreAndDiscovery(adminToken: string): Promise<void> {
  const users = await tasksOf('user-service');
  expect(users).toHaveLength(2);
  const [gateway] = await tasksOf('gateway');
  const email = `replicas-${Date.now()}@swarm.example.net`;
  const written = await fetchIn(gateway.container, `http://${users[0].address}:3002/`, {
    method: 'POST',
    body: { name: 'Replicas', email, password: 'replicas-password-1' },
  });
  expect(written.status).toBe(201);
  const id = (written.body as { id: number }).id;
  const read = await fetchIn(gateway.container, `http://${users[1].address}:3002/${id}`, {
    headers: { 'x-user-id': String(id), 'x-user-roles': 'user' },
  });
  expect(read).toMatchObject({ status: 200, body: { id, email } });

  const expected: Record<string, string[]> = {};
  for (const service of Object.keys(PORTS)) {
    expected[service] = (await tasksOf(service))
      .map((t) => `http://${t.address}:${PORTS[service]}`)
      .sort();
  }
  for (const replica of await tasksOf('gateway')) {
    const seen = await waitFor(
      `gateway ${replica.address} to list every task`,
      async () => {
        const status = await statusOf(replica, adminToken);
        return JSON.stringify(status) === JSON.stringify(expected) ? status : undefined;
      },
      20_000,
    );
    expect(seen).toEqual(expected);
  }
}

/** Targets of each service as one gateway replica reports them, only those in rotation. */
export async function statusOf(
  gateway: Pick<Task, 'container'>,
  token: string,
): Promise<Record<string, string[]>> {
  const answer = await fetchIn(gateway.container, 'http://127.0.0.1:8080/api/admin/status', {
    headers: { authorization: `Bearer ${token}` },
  });
  if (answer.status !== 200) throw new Error(`status: ${answer.status}`);
  const body = answer.body as {
    services: Array<{ name: string; targets: Array<{ origin: string; state: string }> }>;
  };
  return Object.fromEntries(
    body.services.map((s) => [
      s.name,
      s.targets
        .filter((t) => t.state === 'up')
        .map((t) => t.origin)
        .sort(),
    ]),
  );
}
