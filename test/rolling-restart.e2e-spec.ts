import { writeFileSync } from 'node:fs';
import { Agent, IncomingHttpHeaders, request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppProcess } from './support/app-process';
import { HoldingProxy } from './support/holding-proxy';
import { freePort, portInUse } from './support/ports';
import { System } from './support/system';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: any;
}

/**
 * One request with node:http, on its own connection unless a keep-alive `agent` is given (then the
 * server's `Connection` header says whether it would keep the connection).
 */
function send(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown; agent?: Agent } = {},
): Promise<Reply> {
  const payload = init.body === undefined ? undefined : JSON.stringify(init.body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: init.method ?? 'GET',
        agent: init.agent ?? false,
        headers: { 'content-type': 'application/json', ...init.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text ? (JSON.parse(text) as unknown) : undefined,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Polls `probe` until it returns true; there is no event to await for a remote process's state. */
async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Requests sent under load and how each ended; a failure keeps its reason for the report. */
class Tally {
  sent = 0;
  answered = 0;
  readonly failures: string[] = [];
  readonly created = new Map<string, number>();

  async count(label: string, expected: number, exchange: () => Promise<Response>): Promise<void> {
    this.sent += 1;
    try {
      const res = await exchange();
      const text = await res.text();
      if (res.status === expected) {
        this.answered += 1;
        if (expected === 201) this.created.set(label, (this.created.get(label) ?? 0) + 1);
      } else {
        this.failures.push(`${label}: ${res.status} ${text.slice(0, 200)}`);
      }
    } catch (err) {
      this.failures.push(`${label}: ${(err as Error).message} ${String((err as Error).cause)}`);
    }
  }
}

/**
 * Graceful drain, proven over real processes: every product and user replica is stopped with
 * SIGTERM and started again in turn (a rolling update) under steady load through the gateway,
 * and not one request fails; the gateway and the checkout service, which run as one instance,
 * finish their requests in flight when stopped.
 */
describe('system: rolling restart under load', () => {
  const system = new System({
    // Long enough for the gateway's active health check below to see readiness turn 503.
    env: { DRAIN_DELAY_MS: '1500' },
    gatewayDefaults: { activeHealth: { intervalMs: 250, timeoutMs: 500 } },
  });
  let auth: Record<string, string>;
  let admin: Record<string, string>;
  let userId: number;

  async function login(email: string, password: string): Promise<Record<string, string>> {
    const res = await send(`${system.gateway.url}/api/auth/login`, {
      method: 'POST',
      body: { email, password },
    });
    expect(res.status).toBe(200);
    return { authorization: `Bearer ${res.body.accessToken}` };
  }

  beforeAll(async () => {
    await system.start();
    const email = `rolling-${Date.now()}@example.com`;
    const registered = await send(`${system.gateway.url}/api/users`, {
      method: 'POST',
      body: { name: 'Rolling', email, password: 'rolling-password-1' },
    });
    expect(registered.status).toBe(201);
    userId = registered.body.id as number;
    auth = await login(email, 'rolling-password-1');
    admin = await login('admin@example.com', 'admin-password-123');
  }, 90_000);

  afterAll(() => system.stop(), 30_000);

  /** Resolves once the gateway has every target of `service` in rotation again. */
  function gatewaySeesAllOf(service: string): Promise<void> {
    return until(`gateway sees every ${service} replica`, async () => {
      const res = await send(`${system.gateway.url}/health/ready`);
      const seen = res.body?.info?.upstreams?.[service] as { healthy: number; total: number };
      return res.status === 200 && seen !== undefined && seen.healthy === seen.total;
    });
  }

  it('should answer every request while each product and user replica is restarted in turn', async () => {
    const gateway = system.gateway.url;
    const json = { 'content-type': 'application/json' };
    const usersBefore = await send(`${gateway}/api/users?limit=1`, { headers: admin });
    expect(usersBefore.status).toBe(200);
    const productsBefore = await send(`${gateway}/api/products?limit=1`);
    expect(productsBefore.status).toBe(200);

    const tally = new Tally();
    let loading = true;
    let checkouts = 0;
    // Keyless POST and PATCH are never sent twice by the gateway: only replicas that stop cleanly
    // keep them from failing. The keyed checkout may be retried, and must still act once.
    const client = async (n: number) => {
      for (let i = 0; loading; i++) {
        await tally.count('GET /api/products', 200, () => fetch(`${gateway}/api/products`));
        await tally.count('GET /api/products/:id', 200, () =>
          fetch(`${gateway}/api/products/${(i % 4) + 1}`),
        );
        await tally.count('POST /api/products', 201, () =>
          fetch(`${gateway}/api/products`, {
            method: 'POST',
            headers: { ...json, ...admin },
            body: JSON.stringify({ name: `Rolling ${n}-${i}`, price: '1.00' }),
          }),
        );
        await tally.count('GET /api/users/:id', 200, () =>
          fetch(`${gateway}/api/users/${userId}`, { headers: auth }),
        );
        await tally.count('PATCH /api/users/:id', 200, () =>
          fetch(`${gateway}/api/users/${userId}`, {
            method: 'PATCH',
            headers: { ...json, ...auth },
            body: JSON.stringify({ name: `Rolling ${n}-${i}` }),
          }),
        );
        await tally.count('POST /api/checkout', 201, () =>
          fetch(`${gateway}/api/checkout`, {
            method: 'POST',
            headers: { ...json, ...auth, 'idempotency-key': `rolling-${n}-${i}` },
            body: JSON.stringify({ productId: (i % 4) + 1, quantity: 1 }),
          }),
        );
        checkouts += 1;
        // Steady rather than saturating: the replicas restarting need the CPU as well.
        await sleep(10);
      }
    };
    // Sign-ups: keyless POSTs too, paced as each costs a scrypt hash.
    const signer = async () => {
      for (let i = 0; loading; i++) {
        await tally.count('POST /api/users', 201, () =>
          fetch(`${gateway}/api/users`, {
            method: 'POST',
            headers: json,
            body: JSON.stringify({
              name: 'Signer',
              email: `signer-${Date.now()}-${i}@example.com`,
              password: 'signer-password-1',
            }),
          }),
        );
        await sleep(100);
      }
    };
    const clients = [client(0), client(1), client(2), signer()];

    const restarts: Array<{ replica: string; exitCode: number | null; sent: number; ms: number }> =
      [];
    try {
      await until('load running', () => Promise.resolve(tally.answered >= 20));
      for (const [service, replicas] of [
        ['product-service', system.products],
        ['user-service', system.users],
      ] as const) {
        for (const replica of replicas) {
          const sentBefore = tally.sent;
          const started = performance.now();
          const exitCode = await replica.restart(60_000);
          await gatewaySeesAllOf(service);
          restarts.push({
            replica: `${replica.app}:${replica.port}`,
            exitCode,
            sent: tally.sent - sentBefore,
            ms: Math.round(performance.now() - started),
          });
        }
      }
      const sentAfterLast = tally.sent + 20;
      await until('load after the last restart', () =>
        Promise.resolve(tally.sent >= sentAfterLast),
      );
    } finally {
      loading = false;
      await Promise.all(clients);
    }

    expect(tally.failures).toEqual([]);
    expect(tally.answered).toBe(tally.sent);
    expect(restarts.map((r) => r.exitCode)).toEqual([0, 0, 0, 0]);
    // The load really ran through every restart.
    for (const restart of restarts) expect(restart.sent).toBeGreaterThan(0);

    // Exactly once, retries included: one order per checkout, one product or user per creation.
    const orders = await send(`${gateway}/api/checkout/orders?limit=1`, { headers: auth });
    expect(orders.body.total).toBe(checkouts);
    expect(orders.body.total).toBe(tally.created.get('POST /api/checkout'));
    const productsAfter = await send(`${gateway}/api/products?limit=1`);
    expect(productsAfter.body.total).toBe(
      productsBefore.body.total + (tally.created.get('POST /api/products') ?? 0),
    );
    const usersAfter = await send(`${gateway}/api/users?limit=1`, { headers: admin });
    expect(usersAfter.body.total).toBe(
      usersBefore.body.total + (tally.created.get('POST /api/users') ?? 0),
    );
    process.stdout.write(
      `rolling restart: ${tally.sent} sent, ${tally.answered} answered, ` +
        `${tally.failures.length} failed; ${JSON.stringify(restarts)}\n`,
    );
  }, 180_000);

  it('should let the gateway finish a request in flight when stopped, readiness 503 meanwhile', async () => {
    // Its own gateway, in front of a product replica whose answer to one request is held back.
    const proxy = new HoldingProxy(system.products[0].port, (bytes) => bytes.includes('hold=1'));
    await proxy.start();
    const configPath = join(system.dataDir, 'gateway-drain.yaml');
    writeFileSync(
      configPath,
      `defaults:
  timeouts:
    perTryMs: 30000
  auth:
    default: public
services:
  - name: product-service
    basePath: /api/products
    targets:
      - ${proxy.url}
`,
    );
    const gateway = new AppProcess('gateway', await freePort(), {
      NODE_ENV: 'test',
      GATEWAY_CONFIG: configPath,
      // Room for the checks below on a loaded machine before the listener closes.
      DRAIN_DELAY_MS: '3000',
    });
    const keepAlive = new Agent({ keepAlive: true });
    try {
      await gateway.start();
      const before = await send(`${gateway.url}/api/products/2`, { agent: keepAlive });
      expect([before.status, before.headers.connection]).toEqual([200, 'keep-alive']);
      let settled = false;
      const inFlight = send(`${gateway.url}/api/products/1?hold=1`);
      inFlight.then(
        () => (settled = true),
        () => (settled = true),
      );
      await proxy.whenHeld(1);

      const exit = gateway.stop('SIGTERM');
      await until('gateway readiness 503', async () => {
        const res = await send(`${gateway.url}/health/ready`);
        return res.status === 503;
      });
      const ready = await send(`${gateway.url}/health/ready`, { agent: keepAlive });
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
      expect(ready.headers.connection).toBe('close');
      // Still proxying during the delay, on the lean path too, with keep-alive refused.
      const during = await send(`${gateway.url}/api/products/2`, { agent: keepAlive });
      expect(during.status).toBe(200);
      expect(during.body).toEqual({ id: 2, name: 'USB-C cable', price: '0.10' });
      expect(during.headers.connection).toBe('close');

      await until('gateway listener closed', async () => !(await portInUse(gateway.port)));
      expect(settled).toBe(false);
      proxy.release();
      const answer = await inFlight;
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ id: 1 });
      expect(await exit).toBe(0);
    } finally {
      keepAlive.destroy();
      await gateway.stop('SIGKILL');
      await proxy.close();
    }
  }, 60_000);

  it('should let the checkout service finish an order in flight when stopped, then exit 0', async () => {
    // Its own checkout service, whose price lookup of product 1 is held back.
    const proxy = new HoldingProxy(system.products[1].port, (bytes) => bytes.startsWith('GET /1 '));
    await proxy.start();
    const checkout = new AppProcess('checkout-service', await freePort(), {
      NODE_ENV: 'test',
      DATABASE_PATH: join(system.dataDir, 'orders-drain.db'),
      PRODUCT_SERVICE_URLS: proxy.url,
      USER_SERVICE_URLS: system.users.map((u) => u.url).join(','),
      UPSTREAM_TIMEOUT_MS: '30000',
      DRAIN_DELAY_MS: '1000',
    });
    try {
      await checkout.start();
      let settled = false;
      const order = send(`${checkout.url}/`, {
        method: 'POST',
        headers: { 'x-user-id': String(userId), 'x-user-roles': 'user' },
        body: { productId: 1, quantity: 2 },
      });
      order.then(
        () => (settled = true),
        () => (settled = true),
      );
      await proxy.whenHeld(1);

      const exit = checkout.stop('SIGTERM');
      await until('checkout readiness 503', async () => {
        const res = await send(`${checkout.url}/health/ready`);
        return res.status === 503;
      });
      await until('checkout listener closed', async () => !(await portInUse(checkout.port)));
      expect(settled).toBe(false);
      proxy.release();
      const placed = await order;
      expect(placed.status).toBe(201);
      expect(placed.body).toMatchObject({ userId, productId: 1, quantity: 2, status: 'CONFIRMED' });
      expect(await exit).toBe(0);
    } finally {
      await checkout.stop('SIGKILL');
      await proxy.close();
    }
  }, 60_000);
});
