import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ProofResults, round } from './support/proof-results';
import { ADMIN, ProofSystem } from './support/proof-system';

/** The calls used here of better-sqlite3, which ships no type declarations. */
interface SqliteDatabase {
  prepare(sql: string): { get(...params: unknown[]): unknown };
  close(): void;
}
const Database = createRequire(__filename)('better-sqlite3') as new (
  file: string,
  options: { readonly: boolean },
) => SqliteDatabase;

const results = new ProofResults('services', 'Services: safe retries of every write');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('proof: services honour Idempotency-Key and recover claims of a crashed process', () => {
  const proof = new ProofSystem({
    gatewayDefaults: [
      '  timeouts:',
      '    perTryMs: 1000',
      '  retry:',
      '    attempts: 3',
      '    backoffBaseMs: 20',
      '    backoffMaxMs: 200',
      '  activeHealth:',
      '    intervalMs: 300',
      '    timeoutMs: 300',
    ].join('\n'),
  });
  let adminToken: string;

  beforeAll(async () => {
    await proof.start();
    adminToken = await proof.login(ADMIN);
  }, 120_000);

  afterAll(async () => {
    results.write();
    await proof.stop();
  }, 30_000);

  function count(file: string, sql: string, ...params: unknown[]): number {
    const db = new Database(join(proof.system.dataDir, file), { readonly: true });
    try {
      return (db.prepare(sql).get(...params) as { n: number }).n;
    } finally {
      db.close();
    }
  }

  async function send(
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
  ) {
    const res = await fetch(`${proof.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    return { status: res.status, text: await res.text(), headers: res.headers };
  }

  it('should create one product when the answer to a keyed POST is lost and the gateway retries it on the other replica', async () => {
    const name = `lost-answer-${Date.now()}`;
    const products = proof.proxies['product-service'];
    let resets = 0;
    for (const p of products) {
      p.resetCounts();
      // The first POST reaches a replica whole, which creates the product; its answer is lost.
      p.plan = (r) => {
        if (r.method !== 'POST' || resets > 0) return { kind: 'pass' };
        resets++;
        return { kind: 'reset', bytes: Infinity };
      };
    }
    const res = await send(
      'POST',
      '/api/products',
      { name, price: '5.00' },
      { authorization: `Bearer ${adminToken}`, 'idempotency-key': `proof-${name}` },
    );
    for (const p of products) p.plan = () => ({ kind: 'pass' });
    const replicasSent = products.map((p) => p.forwarded);
    const rows = count('products.db', 'SELECT COUNT(*) AS n FROM products WHERE name = ?', name);

    expect(resets).toBe(1);
    expect(res.status).toBe(201);
    expect(replicasSent.sort()).toEqual([1, 1]);
    expect(rows).toBe(1);
    results.record('keyed product POST, answer lost, retried on the other replica', {
      sent: 1,
      resetsInjected: resets,
      replicasSent: replicasSent.join(' + '),
      status: res.status,
      replayed: res.headers.get('idempotency-replayed') === 'true',
      productRows: rows,
    });
  });

  it('should let a retry run within 3 s of a restart after the checkout service died holding the key', async () => {
    const email = `crash-${Date.now()}@example.com`;
    const password = 'crash-window-password-1';
    const signup = await send('POST', '/api/users', { name: 'Crash', email, password }, {});
    expect(signup.status).toBe(201);
    const token = await proof.login({ email, password });
    const headers = { authorization: `Bearer ${token}`, 'idempotency-key': `crash-${email}` };
    const order = { productId: 2, quantity: 1 };

    // Frozen product replicas keep the first checkout waiting with the key claimed.
    const frozen = proof.system.products.map((p) => p.pid!);
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    const checkoutProxy = proof.proxies['checkout-service'][0];
    checkoutProxy.resetCounts();
    const first = send('POST', '/api/checkout', order, headers).catch((err: Error) => ({
      status: 0,
      text: err.message,
      headers: new Headers(),
    }));
    while (checkoutProxy.forwarded === 0) await sleep(10);
    await sleep(300);
    await proof.system.checkout.stop('SIGKILL');
    for (const pid of frozen) process.kill(pid, 'SIGCONT');
    const firstAnswer = await first;
    for (const p of proof.system.products) await p.waitReady();

    await proof.system.checkout.start();
    const restarted = performance.now();
    const statuses: Record<string, number> = {};
    let final: { status: number; text: string } | undefined;
    while (performance.now() - restarted < 40_000) {
      const res = await send('POST', '/api/checkout', order, headers);
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status !== 409 && res.status !== 503 && res.status !== 502) {
        final = res;
        break;
      }
      await sleep(100);
    }
    const untilAnsweredMs = performance.now() - restarted;
    const userId = (JSON.parse(signup.text) as { id: number }).id;
    const orders = count('orders.db', 'SELECT COUNT(*) AS n FROM orders WHERE user_id = ?', userId);

    expect(final?.status).toBe(201);
    expect(untilAnsweredMs).toBeLessThan(3_000);
    expect(orders).toBe(1);
    results.record('checkout killed holding a key, retried after restart', {
      firstAnswer: firstAnswer.status,
      retryStatuses: Object.entries(statuses)
        .map(([s, n]) => `${s}×${n}`)
        .join(' '),
      msFromRestartToOrder: round(untilAnsweredMs, 0),
      ordersWritten: orders,
    });
  }, 90_000);
});
