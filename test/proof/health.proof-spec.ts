import { Agent, request } from 'undici';
import { ProofResults } from './support/proof-results';
import { ProofSystem, USER } from './support/proof-system';

const PER_TRY_MS = 1_000;
const FAILURES = 3;

const results = new ProofResults(
  'health',
  'Upstream health: what counts as a dead replica, and which retries are safe',
);

describe('proof: upstream health and retry safety on the running system', () => {
  const proof = new ProofSystem({
    gatewayDefaults: [
      '  timeouts:',
      `    perTryMs: ${PER_TRY_MS}`,
      '  retry:',
      '    attempts: 3',
      '    backoffBaseMs: 20',
      '    backoffMaxMs: 200',
      '  passiveHealth:',
      `    failures: ${FAILURES}`,
      '    cooldownMs: 5000',
      '    maxCooldownMs: 60000',
    ].join('\n'),
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
});
