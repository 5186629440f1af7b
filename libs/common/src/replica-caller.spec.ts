import { HttpService } from '@nestjs/axios';
import { Logger } from '@nestjs/common';
import axios from 'axios';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { freePort } from '../../../test/support/ports';
import { ReplicaCaller, ReplicaSet } from './replica-caller';

/** A replica that answers every request with `status` and records what it saw. */
class FakeReplica {
  readonly seen: Array<{
    method: string;
    path: string;
    headers: IncomingHttpHeaders;
    body: string;
  }> = [];
  private readonly server: Server;

  constructor(private readonly answer: { status: number; body?: unknown; hang?: boolean }) {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        this.seen.push({
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body,
        });
        if (this.answer.hang) return;
        res.writeHead(this.answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(this.answer.body ?? { status: this.answer.status }));
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('ReplicaCaller', () => {
  const http = new HttpService(axios.create());
  const replicas: FakeReplica[] = [];

  async function replica(answer: ConstructorParameters<typeof FakeReplica>[0]) {
    const r = new FakeReplica(answer);
    replicas.push(r);
    return { replica: r, url: await r.start() };
  }

  function caller(urls: string[], overrides: Partial<ReplicaSet> = {}): ReplicaCaller {
    return new ReplicaCaller(http, {
      service: 'thing-service',
      urls,
      timeoutMs: 1_000,
      attempts: 3,
      backoff: { baseMs: 1, maxMs: 5 },
      ...overrides,
    });
  }

  /** The answer of a call that must have been answered. */
  async function get(c: ReplicaCaller, path: string, headers: Record<string, string> = {}) {
    const outcome = await c.call<unknown>({ method: 'GET', path, headers });
    if (outcome.kind !== 'answered') throw new Error(`unanswered: ${outcome.reason}`);
    return outcome.response;
  }

  // Each failed try logs a warning; the assertions here count requests instead.
  beforeAll(() => {
    Logger.overrideLogger(false);
  });

  afterEach(async () => {
    await Promise.all(replicas.splice(0).map((r) => r.stop()));
  });

  it('should go past a closed port to the next replica and answer from it', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const up = await replica({ status: 200, body: { id: 1 } });
    const res = await get(caller([closed, up.url]), '/1', { 'x-request-id': 'trace-1' });
    expect(res.status).toBe(200);
    expect(res.data).toEqual({ id: 1 });
    expect(up.replica.seen).toHaveLength(1);
    expect(up.replica.seen[0].path).toBe('/1');
    expect(up.replica.seen[0].headers['x-request-id']).toBe('trace-1');
  });

  it('should spread calls round-robin over healthy replicas', async () => {
    const a = await replica({ status: 200 });
    const b = await replica({ status: 200 });
    const c = caller([a.url, b.url]);
    for (let i = 0; i < 6; i++) await get(c, '/x');
    expect(a.replica.seen).toHaveLength(3);
    expect(b.replica.seen).toHaveLength(3);
  });

  it.each([502, 503, 504])('should try the next replica after a %d', async (status) => {
    const bad = await replica({ status });
    const good = await replica({ status: 200 });
    const res = await get(caller([bad.url, good.url]), '/x');
    expect(res.status).toBe(200);
    expect(bad.replica.seen).toHaveLength(1);
    expect(good.replica.seen).toHaveLength(1);
  });

  it.each([404, 400, 401, 500])('should hand back a %d without retrying it', async (status) => {
    const first = await replica({ status });
    const second = await replica({ status: 200 });
    const res = await get(caller([first.url, second.url]), '/x');
    expect(res.status).toBe(status);
    expect(first.replica.seen).toHaveLength(1);
    expect(second.replica.seen).toHaveLength(0);
  });

  it('should give up after the attempt bound and say why', async () => {
    const a = await replica({ status: 503 });
    const b = await replica({ status: 503 });
    const c = await replica({ status: 503 });
    const outcome = await caller([a.url, b.url, c.url], { attempts: 2 }).call({
      method: 'GET',
      path: '/x',
    });
    expect(outcome).toEqual({ kind: 'unavailable', reason: `${b.url}: HTTP 503` });
    expect(a.replica.seen.length + b.replica.seen.length + c.replica.seen.length).toBe(2);
  });

  it('should try each replica once when no attempt bound is given', async () => {
    const a = await replica({ status: 503 });
    const b = await replica({ status: 503 });
    const outcome = await caller([a.url, b.url], { attempts: undefined }).call({
      method: 'GET',
      path: '/x',
    });
    expect(outcome.kind).toBe('unavailable');
    expect([a.replica.seen.length, b.replica.seen.length]).toEqual([1, 1]);
  });

  it('should be unavailable when every replica is a closed port, or none is configured', async () => {
    const urls = [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`];
    await expect(caller(urls).call({ method: 'GET', path: '/x' })).resolves.toMatchObject({
      kind: 'unavailable',
      reason: `${urls[0]}: ECONNREFUSED`,
    });
    await expect(caller([]).call({ method: 'GET', path: '/x' })).resolves.toEqual({
      kind: 'unavailable',
      reason: 'thing-service: no replica configured',
    });
  });

  it('should cut a replica that does not answer within the timeout and use the next', async () => {
    const hung = await replica({ status: 200, hang: true });
    const up = await replica({ status: 200, body: { ok: true } });
    const started = Date.now();
    const res = await get(caller([hung.url, up.url], { timeoutMs: 200 }), '/x');
    expect(res.data).toEqual({ ok: true });
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(hung.replica.seen).toHaveLength(1);
  });

  it('should send a body as JSON with the method asked for', async () => {
    const up = await replica({ status: 201 });
    const outcome = await caller([up.url]).call({
      method: 'POST',
      path: '/things',
      body: { name: 'x' },
    });
    expect(outcome).toMatchObject({ kind: 'answered', target: up.url });
    expect(up.replica.seen[0]).toMatchObject({ method: 'POST', body: '{"name":"x"}' });
    expect(up.replica.seen[0].headers['content-type']).toMatch(/^application\/json/);
  });

  describe('a call that is not safe to repeat', () => {
    it('should not be sent again after a replica answered 503', async () => {
      const bad = await replica({ status: 503 });
      const good = await replica({ status: 201 });
      const outcome = await caller([bad.url, good.url]).call({ method: 'POST', path: '/x' });
      expect(outcome).toEqual({ kind: 'unavailable', reason: `${bad.url}: HTTP 503` });
      expect([bad.replica.seen.length, good.replica.seen.length]).toEqual([1, 0]);
    });

    it('should not be sent again after a replica timed out', async () => {
      const hung = await replica({ status: 201, hang: true });
      const good = await replica({ status: 201 });
      const outcome = await caller([hung.url, good.url], { timeoutMs: 200 }).call({
        method: 'PATCH',
        path: '/x',
        body: {},
      });
      expect(outcome).toEqual({
        kind: 'unavailable',
        reason: `${hung.url}: timed out after 200 ms`,
      });
      expect([hung.replica.seen.length, good.replica.seen.length]).toEqual([1, 0]);
    });

    it('should still go to the next replica when the connection was refused', async () => {
      const closed = `http://127.0.0.1:${await freePort()}`;
      const good = await replica({ status: 201 });
      const outcome = await caller([closed, good.url]).call({ method: 'POST', path: '/x' });
      expect(outcome).toMatchObject({ kind: 'answered', target: good.url });
      expect(good.replica.seen).toHaveLength(1);
    });

    it.each([
      ['an Idempotency-Key', { headers: { 'Idempotency-Key': 'k-1' } }],
      ['a declared idempotent endpoint', { idempotent: true }],
    ])('should be sent again when it carries %s', async (_what, extra) => {
      const bad = await replica({ status: 503 });
      const good = await replica({ status: 201 });
      const outcome = await caller([bad.url, good.url]).call({
        method: 'POST',
        path: '/x',
        ...extra,
      });
      expect(outcome).toMatchObject({ kind: 'answered', target: good.url });
      expect([bad.replica.seen.length, good.replica.seen.length]).toEqual([1, 1]);
    });
  });
});
