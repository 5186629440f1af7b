import { join } from 'node:path';
import { Agent, request } from 'undici';
import { Fault, PASS } from './support/fault-proxy';
import { ProofResults, round } from './support/proof-results';
import { ProofSystem, QUICK_RETRY } from './support/proof-system';
import { openReadOnly } from '../support/sqlite';

const CHECKOUTS = Number(process.env.PROOF_CHECKOUTS ?? 1_000);
const CLIENTS = 16;
const PER_TRY_MS = 1_000;
const MAX_CLIENT_TRIES = 40;

const results = new ProofResults('exactly-once', 'Exactly-once checkout through injected faults');

/** A small seeded generator (mulberry32), so a failing run can be repeated with its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('proof: exactly-once checkout through resets and delays', () => {
  const proof = new ProofSystem({
    gatewayDefaults: {
      timeouts: { perTryMs: PER_TRY_MS },
      retry: QUICK_RETRY,
      // One checkout replica and one fault in five: an ejection stays short, so clients see it end.
      passiveHealth: { failures: 5, cooldownMs: 200, maxCooldownMs: 1000 },
      activeHealth: { intervalMs: 500, timeoutMs: 500 },
    },
  });
  const agent = new Agent({ connections: CLIENTS });
  const seed = Number(process.env.PROOF_SEED ?? Date.now() % 2 ** 31);

  beforeAll(() => proof.start(), 120_000);

  afterAll(async () => {
    results.write();
    await agent.close();
    await proof.stop();
  }, 30_000);

  async function post(
    path: string,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<{ status: number; body: string; replayed: boolean }> {
    const res = await request(`${proof.url}${path}`, {
      dispatcher: agent,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return {
      status: res.statusCode,
      body: await res.body.text(),
      replayed: res.headers['idempotency-replayed'] === 'true',
    };
  }

  it(`should place exactly ${CHECKOUTS} orders for ${CHECKOUTS} keys through 10% resets and 10% delays`, async () => {
    const email = `exactly-once-${Date.now()}@example.com`;
    const password = 'exactly-once-password-1';
    const registered = await post('/api/users', { name: 'Exactly Once', email, password }, {});
    expect(registered.status).toBe(201);
    const userId = (JSON.parse(registered.body) as { id: number }).id;
    const token = await proof.login({ email, password });
    const auth = { authorization: `Bearer ${token}` };

    const checkout = proof.proxies['checkout-service'];
    const roll = random(seed);
    const plan = (r: { method: string; path: string }): Fault => {
      if (r.method !== 'POST' || r.path !== '/') return PASS;
      const x = roll();
      // The whole request reaches the service, which places the order; its answer is lost.
      if (x < 0.1) return { kind: 'reset', bytes: Infinity };
      // Half of the delays outlast the gateway's per-try timeout, so the gateway retries.
      if (x < 0.15) return { kind: 'latency', ms: PER_TRY_MS + 500 };
      if (x < 0.2) return { kind: 'latency', ms: 300 };
      return PASS;
    };
    for (const p of checkout) {
      p.resetCounts();
      p.plan = plan;
    }

    const keys = Array.from({ length: CHECKOUTS }, (_, i) => `proof-${seed}-${i}`);
    const first = new Map<string, { status: number; body: string }>();
    const clientOutcomes: Record<string, number> = {};
    let clientRetries = 0;
    const lastFailure: Record<string, string> = {};
    let next = 0;
    const started = performance.now();
    const worker = async () => {
      while (next < keys.length) {
        const i = next++;
        const key = keys[i];
        const order = { productId: (i % 4) + 1, quantity: (i % 3) + 1 };
        for (let attempt = 1; attempt <= MAX_CLIENT_TRIES; attempt++) {
          let outcome: string;
          try {
            const res = await post('/api/checkout', order, { ...auth, 'idempotency-key': key });
            outcome = String(res.status);
            if (res.status === 201) {
              first.set(key, { status: res.status, body: res.body });
            } else lastFailure[key] = res.body;
          } catch (err) {
            outcome = (err as { code?: string }).code ?? 'network error';
          }
          clientOutcomes[outcome] = (clientOutcomes[outcome] ?? 0) + 1;
          if (first.has(key)) break;
          clientRetries += 1;
          // Exponential backoff with full jitter, capped at one second.
          const cap = Math.min(1_000, 50 * 2 ** attempt);
          await new Promise((r) => setTimeout(r, cap * Math.random()));
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, worker));
    const seconds = (performance.now() - started) / 1000;
    for (const p of checkout) p.plan = () => PASS;

    const unanswered = keys.filter((k) => !first.has(k));
    expect({
      answered: first.size,
      unanswered: unanswered.slice(0, 3).map((k) => lastFailure[k]),
    }).toEqual({
      answered: CHECKOUTS,
      unanswered: [],
    });
    // Counted now: the replays below add requests of their own.
    const injected = checkout.reduce(
      (sum, p) => ({
        reset: sum.reset + p.injected.reset,
        latency: sum.latency + p.injected.latency,
      }),
      { reset: 0, latency: 0 },
    );
    const upstreamPosts = checkout.reduce(
      (n, p) => n + p.log.filter((e) => e.method === 'POST').length,
      0,
    );

    // The service's own database, read directly.
    const db = openReadOnly(join(proof.system.dataDir, 'orders.db'));
    let ordersInDb: number;
    let distinctOrderIds: Set<number>;
    let completedKeys: number;
    try {
      ordersInDb = (
        db.prepare('SELECT COUNT(*) AS n FROM orders WHERE user_id = ?').get(userId) as {
          n: number;
        }
      ).n;
      distinctOrderIds = new Set(
        (
          db.prepare('SELECT id FROM orders WHERE user_id = ?').all(userId) as Array<{ id: number }>
        ).map((r) => r.id),
      );
      completedKeys = (
        db
          .prepare(
            "SELECT COUNT(*) AS n FROM idempotency_records WHERE scope = ? AND status = 'COMPLETED'",
          )
          .get(`user:${userId}`) as { n: number }
      ).n;
    } finally {
      db.close();
    }
    const answeredIds = new Set(
      [...first.values()].map((r) => (JSON.parse(r.body) as { id: number }).id),
    );
    const duplicates = ordersInDb - answeredIds.size;

    expect(ordersInDb).toBe(CHECKOUTS);
    expect(answeredIds.size).toBe(CHECKOUTS);
    expect([...answeredIds].every((id) => distinctOrderIds.has(id))).toBe(true);
    expect(duplicates).toBe(0);
    expect(completedKeys).toBe(CHECKOUTS);

    // Every key once more, now without faults: the first answer again, byte for byte.
    let replayedSame = 0;
    let replayedFlag = 0;
    next = 0;
    const replayer = async () => {
      while (next < keys.length) {
        const i = next++;
        const key = keys[i];
        const order = { productId: (i % 4) + 1, quantity: (i % 3) + 1 };
        const res = await post('/api/checkout', order, { ...auth, 'idempotency-key': key });
        const original = first.get(key)!;
        if (res.status === original.status && res.body === original.body) replayedSame += 1;
        if (res.replayed) replayedFlag += 1;
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, replayer));
    const afterReplay = openReadOnly(join(proof.system.dataDir, 'orders.db'));
    const ordersAfterReplay = (
      afterReplay.prepare('SELECT COUNT(*) AS n FROM orders WHERE user_id = ?').get(userId) as {
        n: number;
      }
    ).n;
    afterReplay.close();

    expect(replayedSame).toBe(CHECKOUTS);
    expect(replayedFlag).toBe(CHECKOUTS);
    expect(ordersAfterReplay).toBe(CHECKOUTS);

    expect(injected.reset).toBeGreaterThan(0);
    expect(injected.latency).toBeGreaterThan(0);
    results.record(`${CHECKOUTS} keyed checkouts through faults`, {
      seed,
      keys: CHECKOUTS,
      clientRequests: Object.values(clientOutcomes).reduce((a, b) => a + b, 0),
      clientRetries,
      clientOutcomes: JSON.stringify(clientOutcomes),
      upstreamPostAttempts: upstreamPosts,
      resetsInjected: injected.reset,
      delaysInjected: injected.latency,
      ordersInDatabase: ordersInDb,
      duplicates,
      lost: CHECKOUTS - answeredIds.size,
      replays: CHECKOUTS,
      replaysIdenticalToFirstAnswer: replayedSame,
      ordersAfterReplay,
      seconds: round(seconds, 1),
    });
  }, 300_000);
});
