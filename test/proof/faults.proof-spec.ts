import { Agent, request } from 'undici';
import { describeWhen } from '../../apps/gateway/test/support/redis-available';
import {
  PrivateRedisServer,
  redisServerStatus,
} from '../../apps/gateway/test/support/redis-server';
import { PASS } from './support/fault-proxy';
import { ProofResults, round } from './support/proof-results';
import { ProofSystem, USER } from './support/proof-system';

const PER_TRY_MS = 1_000;
const ATTEMPTS = 3;
const BACKOFF_MAX_MS = 200;
const KILL_RUN = Number(process.env.PROOF_KILL_REQUESTS ?? 3_000);

const results = new ProofResults(
  'faults',
  'Faults between the gateway and its replicas, and Redis',
);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeWhen('proof: faults injected into the running system', redisServerStatus(), () => {
  const redis = new PrivateRedisServer();
  let proof: ProofSystem;
  const agent = new Agent({ connections: 16 });

  async function call(
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
  ): Promise<{ status: number; body: string; ms: number }> {
    const started = performance.now();
    const res = await request(`${proof.url}${path}`, {
      dispatcher: agent,
      method: (init.method ?? 'GET') as 'GET',
      headers: { 'content-type': 'application/json', ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const body = await res.body.text();
    return { status: res.statusCode, body, ms: performance.now() - started };
  }

  /**
   * Waits until the products route answers 200 several times in a row and every product replica
   * has served one of those answers: a replica still ejected by the previous case is back.
   */
  async function settle(): Promise<void> {
    for (const p of proof.allProxies) {
      p.plan = () => PASS;
      p.resetCounts();
    }
    const products = proof.proxies['product-service'];
    const everyReplicaServed = () => products.every((p) => p.forwarded > 0);
    let streak = 0;
    const deadline = Date.now() + 20_000;
    while ((streak < 10 || !everyReplicaServed()) && Date.now() < deadline) {
      streak = (await call('/api/products/1')).status === 200 ? streak + 1 : 0;
      if (streak === 0 || !everyReplicaServed()) await sleep(100);
    }
    expect(everyReplicaServed()).toBe(true);
    expect(streak).toBeGreaterThanOrEqual(10);
    for (const p of proof.allProxies) p.resetCounts();
  }

  beforeAll(async () => {
    await redis.start();
    proof = new ProofSystem({
      gatewayEnv: { REDIS_URL: redis.url, AUTH_REDIS_TIMEOUT_MS: '200' },
      gatewayDefaults: {
        timeouts: { connectMs: 500, perTryMs: PER_TRY_MS },
        retry: { attempts: ATTEMPTS, backoffBaseMs: 20, backoffMaxMs: BACKOFF_MAX_MS },
        passiveHealth: { failures: 3, cooldownMs: 500, maxCooldownMs: 2000 },
        activeHealth: { intervalMs: 500, timeoutMs: 500 },
      },
    });
    await proof.start();
  }, 120_000);

  afterAll(async () => {
    results.write();
    await agent.close();
    await proof?.stop();
    await redis.stop();
  }, 30_000);

  beforeEach(() => settle(), 30_000);

  it('should answer 502 to a keyless POST reset after it was sent, and send it upstream exactly once', async () => {
    const users = proof.proxies['user-service'];
    for (const p of users) {
      p.plan = (r) =>
        r.method === 'POST' && r.path === '/' ? { kind: 'reset', bytes: Infinity } : PASS;
    }
    const email = `reset-${Date.now()}@example.com`;
    const signUp = { name: 'Reset', email, password: 'reset-password-1' };
    const first = await call('/api/users', { method: 'POST', body: signUp });
    const sentUpstream = users.reduce((n, p) => n + p.forwarded, 0);
    const resets = users.reduce((n, p) => n + p.injected.reset, 0);
    expect(first.status).toBe(502);
    expect(sentUpstream).toBe(1);
    expect(resets).toBe(1);

    // The replica did get it and created the user: the same sign-up again is a conflict, not a second user.
    for (const p of users) p.plan = () => PASS;
    let again = await call('/api/users', { method: 'POST', body: signUp });
    for (let i = 0; i < 20 && again.status !== 409; i++) {
      await sleep(100);
      again = await call('/api/users', { method: 'POST', body: signUp });
    }
    expect(again.status).toBe(409);
    results.record('reset after a keyless POST was sent', {
      sent: 1,
      status: first.status,
      resetsInjected: resets,
      upstreamSaw: sentUpstream,
      usersCreated: 1,
    });
  });

  it('should answer 504 within the timeout plus margin when every replica is too slow, within the attempt limit', async () => {
    const products = proof.proxies['product-service'];
    for (const p of products) {
      p.plan = (r) => (r.method === 'GET' ? { kind: 'latency', ms: PER_TRY_MS * 3 } : PASS);
    }
    const count = 10;
    const answers = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        call('/api/products/2', { headers: { 'x-request-id': `slow-${i}` } }),
      ),
    );
    const attemptsPerRequest = Array.from(
      { length: count },
      (_, i) =>
        products
          .flatMap((p) => p.log)
          .filter((e) => `${e.head}\r\n`.includes(`\r\nx-request-id: slow-${i}\r\n`)).length,
    );
    // Each attempt waits out the per-try timeout; backoffs between attempts; then a margin for the machine.
    const bound = ATTEMPTS * PER_TRY_MS + (ATTEMPTS - 1) * BACKOFF_MAX_MS + 1_500;
    expect(answers.map((a) => a.status)).toEqual(new Array(count).fill(504));
    expect(Math.min(...answers.map((a) => a.ms))).toBeGreaterThanOrEqual(PER_TRY_MS - 50);
    expect(Math.max(...answers.map((a) => a.ms))).toBeLessThanOrEqual(bound);
    expect(Math.min(...attemptsPerRequest)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...attemptsPerRequest)).toBeLessThanOrEqual(ATTEMPTS);
    results.record('latency beyond the per-try timeout', {
      sent: count,
      answered504: answers.filter((a) => a.status === 504).length,
      perTryTimeoutMs: PER_TRY_MS,
      injectedLatencyMs: PER_TRY_MS * 3,
      maxAttempts: ATTEMPTS,
      attemptsSeenMax: Math.max(...attemptsPerRequest),
      upstreamSaw: attemptsPerRequest.reduce((a, b) => a + b, 0),
      slowestAnswerMs: Math.round(Math.max(...answers.map((a) => a.ms))),
      boundMs: bound,
    });
  });

  it('should answer every GET from the other replica when one swallows its requests', async () => {
    const [hole, other] = proof.proxies['product-service'];
    hole.plan = (r) => (r.method === 'GET' ? { kind: 'blackhole' } : PASS);
    const count = 20;
    const answers: Array<{ status: number; ms: number }> = [];
    for (let i = 0; i < count; i++) answers.push(await call(`/api/products/${(i % 4) + 1}`));
    // A request that met the black hole waited one per-try timeout, then went to the other replica.
    const bound = 2 * PER_TRY_MS + BACKOFF_MAX_MS + 1_500;
    expect(answers.map((a) => a.status)).toEqual(new Array(count).fill(200));
    expect(Math.max(...answers.map((a) => a.ms))).toBeLessThanOrEqual(bound);
    expect(hole.injected.blackhole).toBeGreaterThanOrEqual(1);
    expect(other.forwarded).toBe(count);
    results.record('blackholed replica', {
      sent: count,
      answered200: answers.filter((a) => a.status === 200).length,
      swallowedByBlackhole: hole.injected.blackhole,
      answeredByOtherReplica: other.forwarded,
      slowestAnswerMs: Math.round(Math.max(...answers.map((a) => a.ms))),
      boundMs: bound,
    });
  });

  it('should answer 503 on protected routes while Redis is down, recover by itself, and never fail public routes', async () => {
    const token = await proof.login(USER);
    const auth = { authorization: `Bearer ${token}` };
    expect((await call('/api/checkout/orders', { headers: auth })).status).toBe(200);

    // Public traffic all along: before, during and after the outage.
    let running = true;
    const publicRun = { sent: 0, ok: 0, failed: [] as number[] };
    const publicLoop = (async () => {
      while (running) {
        publicRun.sent += 1;
        const res = await call('/api/products/1');
        if (res.status === 200) publicRun.ok += 1;
        else publicRun.failed.push(res.status);
        await sleep(5);
      }
    })();

    let redisDown = false;
    try {
      await sleep(200);
      redisDown = true;
      const stoppedAt = performance.now();
      await redis.stop();
      // The local token cache may answer within its revocation bound; past it, only 503.
      let first503 = 0;
      while (performance.now() - stoppedAt < 10_000) {
        if ((await call('/api/checkout/orders', { headers: auth })).status === 503) {
          first503 = performance.now() - stoppedAt;
          break;
        }
        await sleep(50);
      }
      expect(first503).toBeGreaterThan(0);
      const down: number[] = [];
      for (let i = 0; i < 20; i++) {
        down.push((await call('/api/checkout/orders', { headers: auth })).status);
        await sleep(25);
      }
      const loginWhileDown = await call('/api/auth/login', { method: 'POST', body: USER });
      expect(down).toEqual(new Array(20).fill(503));
      expect(loginWhileDown.status).toBe(503);

      const restartedAt = performance.now();
      await redis.start();
      redisDown = false;
      // Nothing restarts the gateway: it reconnects by itself. The new Redis is empty, so sign in again.
      let again = await call('/api/auth/login', { method: 'POST', body: USER });
      while (again.status !== 200 && performance.now() - restartedAt < 15_000) {
        await sleep(100);
        again = await call('/api/auth/login', { method: 'POST', body: USER });
      }
      expect(again.status).toBe(200);
      const recoveredMs = performance.now() - restartedAt;
      const fresh = {
        authorization: `Bearer ${(JSON.parse(again.body) as { accessToken: string }).accessToken}`,
      };
      const after: number[] = [];
      for (let i = 0; i < 20; i++) {
        after.push((await call('/api/checkout/orders', { headers: fresh })).status);
      }
      expect(after).toEqual(new Array(20).fill(200));
      await sleep(200);
      running = false;
      await publicLoop;
      expect(publicRun.failed).toEqual([]);
      expect(publicRun.ok).toBe(publicRun.sent);
      results.record('Redis stopped, then started again', {
        protectedFirst503AfterMs: Math.round(first503),
        protectedWhileDown: down.length,
        protected503WhileDown: down.filter((s) => s === 503).length,
        loginWhileDownStatus: loginWhileDown.status,
        recoveredAfterRestartMs: Math.round(recoveredMs),
        protected200AfterRecovery: after.filter((s) => s === 200).length,
        publicSent: publicRun.sent,
        publicAnswered200: publicRun.ok,
        publicFailed: publicRun.failed.length,
      });
    } finally {
      running = false;
      await publicLoop;
      if (redisDown) await redis.start();
    }
  }, 60_000);

  it('should lose no idempotent request when a replica is killed mid-run', async () => {
    const products = proof.proxies['product-service'];
    const victim = proof.system.products[0];
    let next = 0;
    let answered = 0;
    const failed: number[] = [];
    let killedAt = -1;
    const worker = async () => {
      while (next < KILL_RUN) {
        const i = next++;
        const method = i % 5 === 0 ? 'HEAD' : 'GET';
        const res = await call(`/api/products/${(i % 4) + 1}`, { method });
        if (res.status === 200) answered += 1;
        else failed.push(res.status);
        if (answered === Math.floor(KILL_RUN / 3) && killedAt < 0) {
          killedAt = answered;
          void victim.stop('SIGKILL');
        }
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: 8 }, worker));
    const seconds = (performance.now() - started) / 1000;
    expect(victim.running).toBe(false);
    expect(failed).toEqual([]);
    expect(answered).toBe(KILL_RUN);
    const attempts = products.reduce((n, p) => n + p.forwarded, 0);
    expect(attempts).toBeGreaterThanOrEqual(KILL_RUN);
    results.record('replica killed mid-run (SIGKILL)', {
      sent: KILL_RUN,
      answered200: answered,
      failed: failed.length,
      killedAfterAnswered: killedAt,
      upstreamAttempts: attempts,
      retried: attempts - KILL_RUN,
      seconds: round(seconds, 1),
    });
  }, 120_000);
});
