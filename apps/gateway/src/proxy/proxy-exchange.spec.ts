import { ConfigService } from '@nestjs/config';
import { once } from 'node:events';
import {
  createServer,
  IncomingHttpHeaders,
  IncomingMessage,
  request as httpRequest,
  Server,
  ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import pino from 'pino';
import { Dispatcher } from 'undici';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import type { GatewayConfig } from '../routing/gateway-config';
import { parseGatewayConfig } from '../routing/gateway-config.loader';
import { GATEWAY_SETTINGS } from '../routing/gateway-env';
import { Tracing } from '@app/common';
import { AccessLog } from './access-log';
import { ExchangeTrace } from './exchange-trace';
import { ExchangeContext, ExchangeState, ProxyExchange } from './proxy-exchange';
import { TargetHealth } from './target-health';
import { UpstreamHealth } from './upstream-health';
import { UpstreamRegistry } from './upstream-registry';
import { UpstreamTarget } from './upstream-target';

/** The controller undici hands a handler; `abort` reports back as undici does, a tick later. */
class FakeController implements Dispatcher.DispatchController {
  private abortReason: Error | null = null;
  private isPaused = false;
  resumes = 0;

  constructor(private readonly call: DispatchedCall) {}

  get aborted(): boolean {
    return this.abortReason !== null;
  }

  get paused(): boolean {
    return this.isPaused;
  }

  get reason(): Error | null {
    return this.abortReason;
  }

  abort(reason: Error): void {
    if (this.abortReason !== null) return;
    this.abortReason = reason;
    setImmediate(() => this.call.handler.onResponseError?.(this, reason));
  }

  pause(): void {
    this.isPaused = true;
  }

  resume(): void {
    this.isPaused = false;
    this.resumes += 1;
  }
}

/** One request handed to the fake dispatcher: the test plays the upstream's part by hand. */
class DispatchedCall {
  readonly controller = new FakeController(this);

  constructor(
    readonly target: string,
    readonly options: Dispatcher.DispatchOptions,
    readonly handler: Dispatcher.DispatchHandler,
  ) {}

  /** The request is on a connection. */
  start(): void {
    this.handler.onRequestStart?.(this.controller, {});
  }

  respond(status: number, headers: IncomingHttpHeaders = {}): void {
    this.handler.onResponseStart?.(this.controller, status, headers, undefined);
  }

  data(text: string | Buffer): void {
    this.handler.onResponseData?.(this.controller, Buffer.from(text));
  }

  end(): void {
    this.handler.onResponseEnd?.(this.controller, {});
  }

  /** An error undici reports: connect refused, socket reset, body timeout. */
  error(code: string): void {
    const err = Object.assign(new Error(code), { code });
    this.handler.onResponseError?.(this.controller, err);
  }

  /** The whole answer at once: start, status, body, end. */
  answer(status: number, body: string, headers: IncomingHttpHeaders = {}): void {
    this.start();
    this.respond(status, { 'content-type': 'text/plain', ...headers });
    this.data(body);
    this.end();
  }
}

/** A Dispatcher that keeps every request for the test to answer. */
class FakeDispatcher extends Dispatcher {
  private readonly waiting: ((call: DispatchedCall) => void)[] = [];
  private readonly queued: DispatchedCall[] = [];

  constructor(
    private readonly origin: string,
    private readonly log: DispatchedCall[],
  ) {
    super();
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) {
    const call = new DispatchedCall(this.origin, options, handler);
    this.log.push(call);
    const waiter = this.waiting.shift();
    if (waiter) waiter(call);
    else this.queued.push(call);
    return true;
  }

  next(): Promise<DispatchedCall> {
    const call = this.queued.shift();
    if (call) return Promise.resolve(call);
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

interface ClientAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  interim: number[];
}

/** How the test server hands a request to its exchange. */
type Begin = (exchange: ProxyExchange, req: IncomingMessage) => void;

const sendWithoutBody: Begin = (exchange) => exchange.send(null);

const ORIGIN_A = 'http://a.upstream.test';
const ORIGIN_B = 'http://b.upstream.test';

describe('ProxyExchange against a fake dispatcher', () => {
  let config: GatewayConfig;
  let metrics: GatewayMetrics;
  let registry: UpstreamRegistry;
  let health: UpstreamHealth;
  let context: ExchangeContext;
  let calls: DispatchedCall[];
  let dispatchers: FakeDispatcher[];
  let targets: UpstreamTarget[];
  let server: Server;
  let port: number;
  let exchanges: ProxyExchange[];
  let begin: Begin;

  function configure(service: Record<string, unknown> = {}): void {
    config = parseGatewayConfig({
      services: [
        {
          name: 'svc',
          basePath: '/svc',
          targets: [ORIGIN_A, ORIGIN_B],
          retry: { attempts: 2, backoffBaseMs: 1, backoffMaxMs: 1 },
          timeouts: { connectMs: 1_000, perTryMs: 2_000, idleMs: 5_000 },
          activeHealth: { enabled: false },
          ...service,
        },
      ],
    });
    metrics = new GatewayMetrics();
    registry = new UpstreamRegistry(config, metrics, () => 0);
    const logger = pino({ level: 'silent' });
    health = new UpstreamHealth(registry, metrics, logger);
    const accessLog = new AccessLog(
      new ConfigService({ [GATEWAY_SETTINGS]: { accessLog: false, logLevel: 'info' } }),
    );
    context = { health, accessLog, logger, revealTarget: true };
    calls = [];
    const serviceConfig = config.services[0];
    dispatchers = [ORIGIN_A, ORIGIN_B].map((origin) => new FakeDispatcher(origin, calls));
    targets = dispatchers.map(
      (pool, i) =>
        new UpstreamTarget(
          'svc',
          100 + i,
          [ORIGIN_A, ORIGIN_B][i],
          pool,
          new TargetHealth(serviceConfig.passiveHealth),
        ),
    );
    registry.get(0).balancer.replace(targets);
  }

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const upstreams = registry.get(0);
      const headers = ['x-request-id', 'rid-1'];
      const exchange = new ProxyExchange(context, {
        req,
        res,
        upstreams,
        path: '/svc/items',
        upstreamPath: '/items',
        headers,
        requestId: 'rid-1',
        trace: ExchangeTrace.begin(new Tracing(null), req, '/svc', '/svc/items', headers),
        started: performance.now(),
        replaySafe: upstreams.retry.isReplaySafe(
          req.method ?? 'GET',
          req.headers['idempotency-key'] !== undefined,
        ),
      });
      exchanges.push(exchange);
      begin(exchange, req);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    configure();
    exchanges = [];
    begin = sendWithoutBody;
  });

  /** Sends a request to the test server; resolves with the answer, or rejects when it is cut. */
  function send(
    method: string,
    options: { body?: string | Readable; headers?: Record<string, string> } = {},
  ): { answer: Promise<ClientAnswer>; responded: Promise<void>; destroy: () => void } {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      method,
      path: '/svc/items',
      headers: options.headers,
      agent: false,
    });
    const interim: number[] = [];
    const responded = new Promise<void>((resolve) => req.once('response', () => resolve()));
    req.on('information', (info) => interim.push(info.statusCode));
    const answer = new Promise<ClientAnswer>((resolve, reject) => {
      req.on('error', reject);
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('aborted', () => reject(new Error('response aborted')));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, interim }),
        );
      });
    });
    const body = options.body;
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
    return { answer, responded, destroy: () => req.destroy() };
  }

  /** The exchange the test server made for the latest request, once it exists. */
  async function latestExchange(): Promise<ProxyExchange> {
    while (exchanges.length === 0) await new Promise((resolve) => setImmediate(resolve));
    return exchanges[exchanges.length - 1];
  }

  async function stateBecomes(exchange: ProxyExchange, state: ExchangeState): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (exchange.state !== state) {
      if (Date.now() > deadline) throw new Error(`state ${exchange.state}, expected ${state}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async function countOf(status: number): Promise<number> {
    const text = await metrics.registry.metrics();
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`gateway_requests_total{service="svc",status="${status}"}`));
    return line === undefined ? 0 : Number(line.split(' ')[1]);
  }

  async function retriesCounted(): Promise<number> {
    const text = await metrics.registry.metrics();
    const line = text
      .split('\n')
      .find((l) => l.startsWith('gateway_upstream_retries_total{service="svc"}'));
    return line === undefined ? 0 : Number(line.split(' ')[1]);
  }

  function inFlight(): number[] {
    return targets.map((t) => t.inFlight);
  }

  it('should go connecting, sending, streaming-response, done on a success', async () => {
    const { answer } = send('GET');
    const call = await dispatchers[0].next();
    const exchange = await latestExchange();
    expect(exchange.state).toBe('connecting');
    expect(call.options).toMatchObject({ path: '/items', method: 'GET', body: null });
    expect(inFlight()).toEqual([1, 0]);
    call.start();
    expect(exchange.state).toBe('sending');
    call.respond(200, { 'content-type': 'text/plain', connection: 'keep-alive, x-drop' });
    expect(exchange.state).toBe('streaming-response');
    call.data('hel');
    call.data('lo');
    call.end();
    expect(exchange.state).toBe('done');
    const got = await answer;
    expect(got.status).toBe(200);
    expect(got.body).toBe('hello');
    expect(got.headers['x-request-id']).toBe('rid-1');
    expect(got.headers['x-upstream-target']).toBe(ORIGIN_A);
    expect(inFlight()).toEqual([0, 0]);
    expect(await countOf(200)).toBe(1);
    expect(calls).toHaveLength(1);
  });

  it('should retry a connect error on the other target, after backing off', async () => {
    const { answer } = send('GET');
    const first = await dispatchers[0].next();
    const exchange = await latestExchange();
    first.error('ECONNREFUSED');
    expect(exchange.state).toBe('backing-off');
    expect(targets[0].health.snapshot().consecutiveFailures).toBe(1);
    const second = await dispatchers[1].next();
    expect(exchange.state).toBe('connecting');
    second.answer(200, 'from b');
    const got = await answer;
    expect(got.status).toBe(200);
    expect(got.body).toBe('from b');
    expect(got.headers['x-upstream-target']).toBe(ORIGIN_B);
    expect(await retriesCounted()).toBe(1);
    expect(inFlight()).toEqual([0, 0]);
  });

  it.each([502, 503, 504])(
    'should read and drop a %i to a replay-safe request and try the other target',
    async (status) => {
      const { answer } = send('GET');
      const first = await dispatchers[0].next();
      const exchange = await latestExchange();
      first.start();
      first.respond(status, { 'content-type': 'text/plain' });
      expect(exchange.state).toBe('discarding');
      first.data('dropped');
      first.end();
      expect(exchange.state).toBe('backing-off');
      const second = await dispatchers[1].next();
      second.answer(200, 'served');
      const got = await answer;
      expect(got.status).toBe(200);
      expect(got.body).toBe('served');
      // A bare 5xx (no JSON, no Retry-After) counts against the replica.
      expect(targets[0].health.snapshot().consecutiveFailures).toBe(1);
    },
  );

  it('should not charge a replica whose 503 says it is alive (Retry-After)', async () => {
    const { answer } = send('GET');
    const first = await dispatchers[0].next();
    first.answer(503, 'busy', { 'retry-after': '1' });
    (await dispatchers[1].next()).answer(200, 'ok');
    expect((await answer).status).toBe(200);
    expect(targets[0].health.snapshot().consecutiveFailures).toBe(0);
  });

  it('should pass a 503 to a request that is not replay-safe through, without a retry', async () => {
    begin = (exchange, req) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => exchange.send(Buffer.concat(chunks)));
    };
    const { answer } = send('POST', {
      body: '{"a":1}',
      headers: { 'content-type': 'application/json' },
    });
    const call = await dispatchers[0].next();
    expect(call.options.body).toEqual(Buffer.from('{"a":1}'));
    call.answer(503, 'unavailable');
    const got = await answer;
    expect(got.status).toBe(503);
    expect(got.body).toBe('unavailable');
    expect(calls).toHaveLength(1);
    expect(await retriesCounted()).toBe(0);
  });

  it('should answer 502 to a reset of a request that is not replay-safe, without a retry', async () => {
    begin = (exchange) => exchange.send(Buffer.from('x'));
    const { answer } = send('POST', { body: 'x' });
    const call = await dispatchers[0].next();
    call.start();
    call.error('ECONNRESET');
    const got = await answer;
    expect(got.status).toBe(502);
    expect(JSON.parse(got.body)).toMatchObject({
      statusCode: 502,
      message: 'svc failed to answer',
    });
    expect(calls).toHaveLength(1);
  });

  it('should retry a request that is not replay-safe when its bytes never left', async () => {
    begin = (exchange) => exchange.send(Buffer.from('x'));
    const { answer } = send('POST', { body: 'x' });
    (await dispatchers[0].next()).error('ECONNREFUSED');
    (await dispatchers[1].next()).answer(201, 'created');
    expect((await answer).status).toBe(201);
  });

  it('should pass the last attempt’s 503 through as a 503, not a 502', async () => {
    const { answer } = send('GET');
    (await dispatchers[0].next()).answer(503, 'first');
    const second = await dispatchers[1].next();
    second.answer(503, 'last', { 'content-type': 'application/json' });
    const got = await answer;
    expect(got.status).toBe(503);
    expect(got.body).toBe('last');
    expect(calls).toHaveLength(2);
  });

  it('should answer 502 when every attempt failed to connect', async () => {
    const { answer } = send('GET');
    (await dispatchers[0].next()).error('ECONNREFUSED');
    (await dispatchers[1].next()).error('ECONNREFUSED');
    const got = await answer;
    expect(got.status).toBe(502);
    expect(exchanges[0].state).toBe('done');
  });

  it('should abandon the attempt when the client leaves mid-request', async () => {
    const { answer, destroy } = send('GET');
    const call = await dispatchers[0].next();
    const exchange = await latestExchange();
    call.start();
    expect(exchange.state).toBe('sending');
    answer.catch(() => undefined);
    destroy();
    await stateBecomes(exchange, 'done');
    expect(call.controller.aborted).toBe(true);
    expect(call.controller.reason?.name).toBe('AttemptAbandonedError');
    expect(inFlight()).toEqual([0, 0]);
    expect(await countOf(499)).toBe(1);
    // The abandoned attempt's later callbacks change nothing.
    call.respond(200);
    call.end();
    expect(await countOf(200)).toBe(0);
    expect(targets[0].health.snapshot().consecutiveFailures).toBe(0);
  });

  it('should abandon the attempt when the client leaves mid-response', async () => {
    const { answer, responded, destroy } = send('GET');
    const call = await dispatchers[0].next();
    const exchange = await latestExchange();
    call.start();
    call.respond(200, { 'content-type': 'text/plain' });
    call.data('part');
    await responded;
    expect(exchange.state).toBe('streaming-response');
    answer.catch(() => undefined);
    destroy();
    await stateBecomes(exchange, 'done');
    expect(call.controller.aborted).toBe(true);
    expect(inFlight()).toEqual([0, 0]);
    expect(await countOf(499)).toBe(1);
  });

  it('should cut the client connection when the upstream resets mid-response', async () => {
    const { answer } = send('GET');
    const call = await dispatchers[0].next();
    const exchange = await latestExchange();
    call.start();
    call.respond(200, { 'content-type': 'text/plain' });
    call.data('part');
    call.error('ECONNRESET');
    expect(exchange.state).toBe('done');
    await expect(answer).rejects.toThrow();
    expect(calls).toHaveLength(1);
    expect(await countOf(200)).toBe(1);
    expect(targets[0].health.snapshot().consecutiveFailures).toBe(1);
  });

  it('should cut the client connection when the response idles past the body timeout', async () => {
    const { answer } = send('GET');
    const call = await dispatchers[0].next();
    call.start();
    call.respond(200, { 'content-type': 'text/plain' });
    call.data('first chunk');
    // undici's bodyTimeout (the service's idleMs) reports this error.
    call.error('UND_ERR_BODY_TIMEOUT');
    await expect(answer).rejects.toThrow();
    expect(calls).toHaveLength(1);
  });

  it('should abort an attempt past its per-try timeout, retry, and answer 504 at the last', async () => {
    configure({ timeouts: { connectMs: 50, perTryMs: 50, idleMs: 5_000 } });
    const { answer } = send('GET');
    const first = await dispatchers[0].next();
    first.start();
    const second = await dispatchers[1].next();
    expect(first.controller.reason?.name).toBe('AttemptTimeoutError');
    second.start();
    const got = await answer;
    expect(got.status).toBe(504);
    expect(JSON.parse(got.body)).toMatchObject({ message: 'svc did not answer in time' });
    expect(second.controller.reason?.name).toBe('AttemptTimeoutError');
    expect(inFlight()).toEqual([0, 0]);
  });

  it('should give up on an attempt still connecting at its timeout and abort it unsent later', async () => {
    configure({ timeouts: { connectMs: 50, perTryMs: 50, idleMs: 5_000 } });
    const { answer } = send('GET');
    const first = await dispatchers[0].next();
    const exchange = await latestExchange();
    const second = await dispatchers[1].next();
    expect(inFlight()).toEqual([0, 1]);
    // The first reaches a socket after all: it is aborted before anything is sent.
    first.start();
    expect(first.controller.reason?.name).toBe('AttemptAbandonedError');
    second.answer(200, 'in time');
    expect((await answer).body).toBe('in time');
    expect(exchange.state).toBe('done');
  });

  it('should relay a 103 Early Hints with its Link and drop any other 1xx', async () => {
    const { answer } = send('GET');
    const call = await dispatchers[0].next();
    const exchange = await latestExchange();
    call.start();
    call.respond(100, {});
    call.respond(103, { link: '</style.css>; rel=preload' });
    expect(exchange.state).toBe('sending');
    call.respond(200, { 'content-type': 'text/plain' });
    call.data('page');
    call.end();
    const got = await answer;
    expect(got.interim).toEqual([103]);
    expect(got.status).toBe(200);
  });

  it('should stream a declared body as the client’s own stream, never retried once sent', async () => {
    begin = (exchange) => exchange.stream(-1);
    const { answer } = send('POST', { body: 'streamed body', headers: { 'content-length': '13' } });
    const call = await dispatchers[0].next();
    const body = call.options.body as IncomingMessage;
    expect(body).toBeInstanceOf(IncomingMessage);
    call.start();
    let received = '';
    for await (const chunk of body) received += String(chunk);
    expect(received).toBe('streamed body');
    call.error('ECONNRESET');
    expect((await answer).status).toBe(502);
    expect(calls).toHaveLength(1);
  });

  it('should count a chunked body through its own stream and answer 413 past the limit', async () => {
    begin = (exchange) => exchange.stream(8);
    const upload = new Readable({ read() {} });
    const { answer } = send('POST', { body: upload });
    upload.push('0123456789');
    upload.push(null);
    const call = await dispatchers[0].next();
    const body = call.options.body as Readable;
    call.start();
    body.on('error', (err) => call.handler.onResponseError?.(call.controller, err));
    body.resume();
    const got = await answer;
    expect(got.status).toBe(413);
    expect(got.headers.connection).toBe('close');
    expect(inFlight()).toEqual([0, 0]);
  });

  it('should pause the upstream while the client does not read, and resume on drain', async () => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/svc/items', agent: false });
    const response = new Promise<IncomingMessage>((resolve) => req.on('response', resolve));
    req.end();
    const call = await dispatchers[0].next();
    call.start();
    call.respond(200, { 'content-type': 'application/octet-stream' });
    const chunk = Buffer.alloc(1024 * 1024, 1);
    let sent = 0;
    while (!call.controller.paused && sent < 64) {
      call.data(chunk);
      sent += 1;
    }
    expect(call.controller.paused).toBe(true);
    const res = await response;
    let bytes = 0;
    res.on('data', (data: Buffer) => (bytes += data.length));
    while (call.controller.resumes === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    call.end();
    await once(res, 'end');
    expect(bytes).toBe(sent * chunk.length);
  });

  it('should merge headers added twice, a list header keeping every value', async () => {
    begin = (exchange) => {
      exchange.addHeaders({ 'ratelimit-limit': '10', vary: 'Accept' });
      exchange.addHeaders({ 'ratelimit-limit': '5', vary: 'Accept-Encoding' });
      exchange.send(null);
    };
    const { answer } = send('GET');
    (await dispatchers[0].next()).answer(200, 'ok', { vary: 'Cookie' });
    const got = await answer;
    expect(got.headers['ratelimit-limit']).toBe('5');
    expect(got.headers.vary).toBe('Cookie, Accept, Accept-Encoding');
  });

  it('should answer 500 and abandon the attempt on a bug in the proxy path', async () => {
    const { answer } = send('GET');
    const call = await dispatchers[0].next();
    const exchange = await latestExchange();
    call.start();
    exchange.crash(new Error('bug'));
    expect(exchange.state).toBe('done');
    expect((await answer).status).toBe(500);
    expect(call.controller.reason?.name).toBe('AttemptAbandonedError');
    expect(inFlight()).toEqual([0, 0]);
  });
});
