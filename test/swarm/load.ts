import { randomUUID } from 'node:crypto';
import { api, Answer, User } from './http';
import { sleep } from './swarm-env';

export interface Failure {
  at: string;
  request: string;
  status: number;
  body: string;
}

export interface LoadReport {
  sent: number;
  failed: number;
  /** Failed requests that are safe to repeat: GETs and checkouts with an Idempotency-Key. */
  failedIdempotent: number;
  byKind: Record<string, { sent: number; failed: number }>;
  failures: Failure[];
  /** Idempotency-Key → id of the order its checkout answered with. */
  checkouts: Map<string, number>;
  signUps: number;
  seconds: number;
}

export interface LoadPlan {
  users: User[];
  productId: number;
  /** Concurrent GET loops (products bypassing the cache, the user's own record). */
  readers: number;
  /** Pause between keyed checkouts, spread over the users (30 a minute per user allowed). */
  checkoutEveryMs: number;
  /** Pause between sign-ups; 0 for none (10 a minute per client address allowed). */
  signUpEveryMs: number;
}

/**
 * Steady mixed traffic through the gateway's published port until `stop()`: every answer that is
 * not the expected 2xx counts as failed, and the client never retries.
 */
export class Load {
  private running = true;
  private readonly loops: Promise<void>[] = [];
  private readonly started = Date.now();
  private readonly report: LoadReport = {
    sent: 0,
    failed: 0,
    failedIdempotent: 0,
    byKind: {},
    failures: [],
    checkouts: new Map(),
    signUps: 0,
    seconds: 0,
  };

  constructor(private readonly plan: LoadPlan) {
    for (let i = 0; i < plan.readers; i++) this.loops.push(this.reader(i));
    this.loops.push(this.checkouts());
    if (plan.signUpEveryMs > 0) this.loops.push(this.signUps());
  }

  get sent(): number {
    return this.report.sent;
  }

  async stop(): Promise<LoadReport> {
    this.running = false;
    await Promise.all(this.loops);
    this.report.seconds = Math.round((Date.now() - this.started) / 100) / 10;
    return this.report;
  }

  private record(kind: string, request: string, answer: Answer, ok: boolean, safe: boolean) {
    const counts = (this.report.byKind[kind] ??= { sent: 0, failed: 0 });
    counts.sent++;
    this.report.sent++;
    if (ok) return;
    counts.failed++;
    this.report.failed++;
    if (safe) this.report.failedIdempotent++;
    if (this.report.failures.length < 50) {
      this.report.failures.push({
        at: new Date().toISOString(),
        request,
        status: answer.status,
        body: JSON.stringify(answer.body).slice(0, 200),
      });
    }
  }

  private async reader(index: number): Promise<void> {
    let n = 0;
    while (this.running) {
      n++;
      const user = this.plan.users[(index + n) % this.plan.users.length];
      if (n % 2 === 0) {
        // A query the cache has not seen: the request reaches a product-service task.
        const path = `/api/products/${this.plan.productId}?r=${index}-${n}-${Date.now()}`;
        const answer = await api('GET', path);
        this.record('GET product', `GET ${path}`, answer, answer.status === 200, true);
      } else {
        const path = `/api/users/${user.id}`;
        const answer = await api('GET', path, { token: user.token });
        this.record('GET user', `GET ${path}`, answer, answer.status === 200, true);
      }
      await sleep(20);
    }
  }

  private async checkouts(): Promise<void> {
    let n = 0;
    while (this.running) {
      const user = this.plan.users[n++ % this.plan.users.length];
      const key = `load-${randomUUID()}`;
      const answer = await api('POST', '/api/checkout', {
        token: user.token,
        headers: { 'idempotency-key': key },
        body: { productId: this.plan.productId, quantity: 1 },
      });
      const ok = answer.status === 201;
      if (ok) this.report.checkouts.set(key, (answer.body as { id: number }).id);
      this.record('POST checkout (keyed)', `POST /api/checkout key=${key}`, answer, ok, true);
      await sleep(this.plan.checkoutEveryMs);
    }
  }

  private async signUps(): Promise<void> {
    let n = 0;
    while (this.running) {
      n++;
      const email = `load-${Date.now()}-${n}@swarm.example.net`;
      const answer = await api('POST', '/api/users', {
        body: { name: `load ${n}`, email, password: `load-password-${n}` },
      });
      const ok = answer.status === 201;
      if (ok) this.report.signUps++;
      this.record('POST sign-up', `POST /api/users ${email}`, answer, ok, false);
      const until = Date.now() + this.plan.signUpEveryMs;
      while (this.running && Date.now() < until) await sleep(200);
    }
  }
}

/** One line for the log and the README: what was sent and what failed. */
export function describeLoad(name: string, report: LoadReport): string {
  const kinds = Object.entries(report.byKind)
    .map(([kind, c]) => `${kind} ${c.sent}/${c.failed}`)
    .join(', ');
  return (
    `${name}: ${report.sent} requests in ${report.seconds}s, ${report.failed} failed ` +
    `(${report.failedIdempotent} idempotent); sent/failed by kind: ${kinds}`
  );
}
