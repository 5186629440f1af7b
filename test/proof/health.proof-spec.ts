import { join } from 'node:path';
import { Agent, request } from 'undici';
import { ProofResults } from './support/proof-results';
import { ADMIN, ProofSystem, QUICK_RETRY, USER } from './support/proof-system';
import { openReadOnly } from '../support/sqlite';

const PER_TRY_MS = 1_000;
const FAILURES = 3;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const results = new ProofResults(
  'health',
  'Upstream health: what counts as a dead replica, and which retries are safe',
);

describe('proof: upstream health and retry safety on the running system', () => {
  const proof = new ProofSystem({
    gatewayDefaults: {
      timeouts: { perTryMs: PER_TRY_MS },
      retry: QUICK_RETRY,
      passiveHealth: { failures: FAILURES, cooldownMs: 5000, maxCooldownMs: 60000 },
    },
  });
  const agent = new Agent({ connections: 8 });

  async function call(
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
  ): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
    const res = await request(`${proof.url}${path}`, {
      dispatcher: agent,
      method: (init.method ?? 'GET') as 'GET',
      headers: { 'content-type': 'application/json', ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
  }

  /** Until both product replicas are back in the gateway's rotation (after a case that stopped them). */
  async function everyProductReplicaServing(): Promise<void> {
    const products = proof.proxies['product-service'];
    for (const p of products) p.resetCounts();
    const deadline = Date.now() + 20_000;
    while (!products.every((p) => p.forwarded > 0) && Date.now() < deadline) {
      await call('/api/products/1');
      await sleep(50);
    }
    expect(products.map((p) => p.forwarded > 0)).toEqual([true, true]);
  }

  beforeAll(() => proof.start(), 120_000);

  afterAll(async () => {
    results.write();
    await agent.close();
    await proof.stop();
  }, 30_000);

  it('should keep checkout in rotation while it answers 503 because both product replicas are down', async () => {
    const token = await proof.login(USER);
    const auth = { authorization: `Bearer ${token}` };
    expect((await call('/api/checkout/orders', { headers: auth })).status).toBe(200);

    await Promise.all(proof.system.products.map((p) => p.stop('SIGKILL')));
    try {
      const orders: number[] = [];
      let dependencyHeader: unknown;
      for (let i = 0; i < FAILURES * 3; i++) {
        const res = await call('/api/checkout', {
          method: 'POST',
          headers: auth,
          body: { productId: 1, quantity: 1 },
        });
        orders.push(res.status);
        dependencyHeader ??= res.headers['x-dependency-unavailable'];
      }
      const listings: number[] = [];
      for (let i = 0; i < 20; i++) {
        listings.push((await call('/api/checkout/orders', { headers: auth })).status);
      }
      const ready = JSON.parse((await call('/health/ready')).body) as {
        details: { upstreams: Record<string, { healthy: number; total: number }> };
      };
      expect(orders).toEqual(new Array(FAILURES * 3).fill(503));
      expect(listings).toEqual(new Array(20).fill(200));
      expect(dependencyHeader).toBe('product-service');
      expect(ready.details.upstreams['checkout-service']).toEqual({ healthy: 1, total: 1 });
      results.record('both product replicas down: checkout answers 503, stays in rotation', {
        ordersSent: orders.length,
        orders503: orders.filter((s) => s === 503).length,
        dependencyHeader: String(dependencyHeader),
        listingsSent: listings.length,
        listings200: listings.filter((s) => s === 200).length,
        checkoutHealthyTargets: ready.details.upstreams['checkout-service'].healthy,
      });
    } finally {
      await Promise.all(proof.system.products.map((p) => p.start()));
    }
  }, 60_000);

  it('should not send a keyed POST /api/products to the other replica when the first froze with it', async () => {
    const auth = { authorization: `Bearer ${await proof.login(ADMIN)}` };
    const frozen = proof.system.products[0];
    const frozenProxy = proof.proxies['product-service'][0];
    const reachedFrozen = () => frozenProxy.log.some((e) => e.method === 'POST');
    await everyProductReplicaServing();
    for (const p of proof.allProxies) p.resetCounts();
    const names: string[] = [];
    const answers: number[] = [];
    process.kill(frozen.pid!, 'SIGSTOP');
    let resumed = false;
    try {
      // Round-robin sends one of the first two to the frozen replica; a few more in case a
      // health check took it out of rotation first.
      for (let i = 0; i < 6 && !reachedFrozen(); i++) {
        const name = `frozen-${Date.now()}-${i}`;
        names.push(name);
        const res = await call('/api/products', {
          method: 'POST',
          headers: { ...auth, 'idempotency-key': name },
          body: { name, price: 1.5 },
        });
        answers.push(res.status);
      }
      expect(reachedFrozen()).toBe(true);
      process.kill(frozen.pid!, 'SIGCONT');
      resumed = true;
      // The thawed replica handles the request it held; give it time to write.
      await sleep(1_500);
    } finally {
      if (!resumed) process.kill(frozen.pid!, 'SIGCONT');
    }
    const db = openReadOnly(join(proof.system.dataDir, 'products.db'));
    const rows = names.map(
      (name) =>
        (db.prepare('SELECT COUNT(*) AS n FROM products WHERE name = ?').get(name) as { n: number })
          .n,
    );
    db.close();
    const postsSent = proof.proxies['product-service'].reduce(
      (n, p) => n + p.log.filter((e) => e.method === 'POST').length,
      0,
    );
    expect(rows).toEqual(new Array(names.length).fill(1));
    expect(postsSent).toBe(names.length);
    expect(answers.at(-1)).toBe(504);
    results.record('keyed POST to a frozen product replica (SIGSTOP)', {
      sent: names.length,
      answers: answers.join(' '),
      postsTheReplicasWereSent: postsSent,
      duplicates: rows.reduce((a, b) => a + b, 0) - names.length,
      perTryTimeoutMs: PER_TRY_MS,
    });
  }, 60_000);
});
