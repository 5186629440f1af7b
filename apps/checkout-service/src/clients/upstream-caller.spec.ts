import { HttpService } from '@nestjs/axios';
import { Logger } from '@nestjs/common';
import axios from 'axios';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { PeerConfig } from './clients.config';
import { UpstreamCaller, UpstreamUnavailableException } from './upstream-caller';

/** A replica that answers every request with `status` and records what it saw. */
class FakeReplica {
  readonly seen: Array<{ path: string; headers: IncomingHttpHeaders }> = [];
  private readonly server: Server;

  constructor(private readonly answer: { status: number; body?: unknown; hang?: boolean }) {
    this.server = createServer((req, res) => {
      this.seen.push({ path: req.url ?? '', headers: req.headers });
      if (this.answer.hang) return;
      res.writeHead(this.answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(this.answer.body ?? { status: this.answer.status }));
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

/** A URL nothing listens on: a port taken from the OS and released again. */
async function closedPortUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

describe('UpstreamCaller', () => {
  const http = new HttpService(axios.create());
  const replicas: FakeReplica[] = [];

  async function replica(answer: ConstructorParameters<typeof FakeReplica>[0]) {
    const r = new FakeReplica(answer);
    replicas.push(r);
    return { replica: r, url: await r.start() };
  }

  function caller(urls: string[], overrides: Partial<PeerConfig> = {}): UpstreamCaller {
    return new UpstreamCaller(
      http,
      { service: 'thing-service', urls, timeoutMs: 1_000, attempts: 3, ...overrides },
      { baseMs: 1, maxMs: 5 },
    );
  }

  // Each failed try logs a warning; the assertions here count requests instead.
  beforeAll(() => {
    Logger.overrideLogger(false);
  });

  afterEach(async () => {
    await Promise.all(replicas.splice(0).map((r) => r.stop()));
  });

  it('should go past a closed port to the next replica and answer from it', async () => {
    const closed = await closedPortUrl();
    const up = await replica({ status: 200, body: { id: 1 } });
    const res = await caller([closed, up.url]).get('/1', { 'x-request-id': 'trace-1' });
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
    for (let i = 0; i < 6; i++) await c.get('/x', {});
    expect(a.replica.seen).toHaveLength(3);
    expect(b.replica.seen).toHaveLength(3);
  });

  it.each([502, 503, 504])('should try the next replica after a %d', async (status) => {
    const bad = await replica({ status });
    const good = await replica({ status: 200 });
    const res = await caller([bad.url, good.url]).get('/x', {});
    expect(res.status).toBe(200);
    expect(bad.replica.seen).toHaveLength(1);
    expect(good.replica.seen).toHaveLength(1);
  });

  it.each([404, 400, 500])('should hand back a %d without retrying it', async (status) => {
    const first = await replica({ status });
    const second = await replica({ status: 200 });
    const res = await caller([first.url, second.url]).get('/x', {});
    expect(res.status).toBe(status);
    expect(first.replica.seen).toHaveLength(1);
    expect(second.replica.seen).toHaveLength(0);
  });

  it('should give up after the attempt bound with "<service> unavailable"', async () => {
    const a = await replica({ status: 503 });
    const b = await replica({ status: 503 });
    const c = await replica({ status: 503 });
    const call = caller([a.url, b.url, c.url], { attempts: 2 }).get('/x', {});
    await expect(call).rejects.toThrow(new UpstreamUnavailableException('thing-service'));
    await expect(call).rejects.toThrow('thing-service unavailable');
    expect(a.replica.seen.length + b.replica.seen.length + c.replica.seen.length).toBe(2);
  });

  it('should answer 503 when every replica is a closed port', async () => {
    const urls = [await closedPortUrl(), await closedPortUrl()];
    const call = caller(urls).get('/x', {});
    await expect(call).rejects.toBeInstanceOf(UpstreamUnavailableException);
    await expect(call).rejects.toMatchObject({ status: 503 });
  });

  it('should cut a replica that does not answer within the timeout and use the next', async () => {
    const hung = await replica({ status: 200, hang: true });
    const up = await replica({ status: 200, body: { ok: true } });
    const started = Date.now();
    const res = await caller([hung.url, up.url], { timeoutMs: 200 }).get('/x', {});
    expect(res.data).toEqual({ ok: true });
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(hung.replica.seen).toHaveLength(1);
  });
});
