import 'reflect-metadata';
import { IncomingHttpHeaders, OutgoingHttpHeaders, request as httpRequest } from 'node:http';
import { connect as http2Connect, ClientHttp2Session, constants } from 'node:http2';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import { selfSignedCert, SelfSignedCert } from '../../../test/support/self-signed-cert';
import { ADMIN, UserServiceInstance, USER } from './support/auth-harness';
import { startAuthGateway } from './support/auth-gateway';
import { GatewayProcess, runGatewayToExit } from './support/gateway-process';
import { eventually, TestGateway, writeConfig } from './support/test-gateway';
import { closedPort, TestUpstream, UpstreamBehaviour } from './support/test-upstream';

/** What a client got: status, the headers compared between protocols, body and ALPN. */
interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The negotiated protocol: `h2`, `http/1.1` over TLS, or `plain`. */
  protocol: string;
  /** `performance.now()` of each body chunk, and of the end. */
  chunkTimes: number[];
  endedAt: number;
}

interface Ask {
  headers?: OutgoingHttpHeaders;
  body?: string;
}

interface Client {
  readonly name: string;
  ask(method: string, path: string, options?: Ask): Promise<Answer>;
  close(): Promise<void>;
}

/** Headers that must be the same whatever the protocol (date differs by the clock alone). */
const COMPARED = [
  'content-type',
  'content-length',
  'cache-control',
  'etag',
  'x-request-id',
  'www-authenticate',
  'strict-transport-security',
  'ratelimit-limit',
  'vary',
];

const HSTS = 'max-age=31536000; includeSubDomains';
const STREAM_PAUSE_MS = 300;
const CONCURRENT_STREAMS = 100;

function collect(
  status: number,
  headers: IncomingHttpHeaders,
  protocol: string,
  stream: NodeJS.ReadableStream,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const chunkTimes: number[] = [];
    stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      chunkTimes.push(performance.now());
    });
    stream.on('error', reject);
    stream.on('end', () =>
      resolve({
        status,
        headers,
        body: Buffer.concat(chunks).toString(),
        protocol,
        chunkTimes,
        endedAt: performance.now(),
      }),
    );
  });
}

/** One HTTP/2 connection; every request is a stream on it. */
class Http2Client implements Client {
  readonly name = 'HTTP/2';
  readonly session: ClientHttp2Session;

  constructor(origin: string, ca: Buffer) {
    this.session = http2Connect(origin, { ca });
    this.session.on('error', () => undefined);
  }

  ask(method: string, path: string, options: Ask = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const stream = this.session.request({
        ':method': method,
        ':path': path,
        ...options.headers,
      });
      stream.on('error', reject);
      stream.on('response', (headers) => {
        const { [constants.HTTP2_HEADER_STATUS]: status, ...rest } = headers;
        collect(
          Number(status),
          rest as IncomingHttpHeaders,
          this.session.alpnProtocol ?? '',
          stream,
        ).then(resolve, reject);
      });
      stream.end(options.body);
    });
  }

  close(): Promise<void> {
    if (this.session.closed || this.session.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.session.close(() => resolve()));
  }
}

/** HTTP/1.1 over TLS (node:https, keep-alive) or over plain TCP (node:http). */
class Http1Client implements Client {
  private readonly agent: HttpsAgent | undefined;

  constructor(
    readonly name: string,
    private readonly port: number,
    private readonly ca: Buffer | null,
  ) {
    this.agent = ca
      ? new HttpsAgent({ keepAlive: true, ca, ALPNProtocols: ['http/1.1'] })
      : undefined;
  }

  ask(method: string, path: string, options: Ask = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const headers = { ...options.headers };
      if (options.body !== undefined) headers['content-length'] = Buffer.byteLength(options.body);
      const onResponse = (res: import('node:http').IncomingMessage) => {
        const protocol = this.ca ? ((res.socket as TLSSocket).alpnProtocol as string) : 'plain';
        collect(res.statusCode ?? 0, res.headers, protocol, res).then(resolve, reject);
      };
      const req = this.ca
        ? httpsRequest(
            { host: 'localhost', port: this.port, method, path, headers, agent: this.agent },
            onResponse,
          )
        : httpRequest({ host: '127.0.0.1', port: this.port, method, path, headers }, onResponse);
      req.on('error', reject);
      req.end(options.body);
    });
  }

  close(): Promise<void> {
    this.agent?.destroy();
    return Promise.resolve();
  }
}

function compared(answer: Answer): Record<string, unknown> {
  return {
    status: answer.status,
    body: answer.body,
    headers: Object.fromEntries(COMPARED.map((name) => [name, answer.headers[name]])),
  };
}

/** Answers with what it was asked, the forwarding headers it got, and its caller's identity. */
const upstreamAnswer = (state: { inFlight: number; maxInFlight: number }): UpstreamBehaviour => {
  return (req, res, seen) => {
    if (seen.url === '/hints') {
      res.writeEarlyHints({ link: '</app.css>; rel=preload; as=style' });
      setTimeout(() => res.end('hinted'), 50);
      return;
    }
    if (seen.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('one\n');
      setTimeout(() => res.write('two\n'), STREAM_PAUSE_MS);
      setTimeout(() => res.end('three\n'), 2 * STREAM_PAUSE_MS);
      return;
    }
    const body = JSON.stringify({
      method: seen.method,
      url: seen.url,
      body: seen.body,
      forwardedProto: req.headers['x-forwarded-proto'],
      forwardedHost: req.headers['x-forwarded-host'],
      pseudoHeaders: Object.keys(req.headers).filter((name) => name.startsWith(':')),
      user: req.headers['x-user-id'] ?? null,
    });
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    };
    if (seen.url.startsWith('/slow')) {
      state.inFlight += 1;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      setTimeout(() => {
        state.inFlight -= 1;
        answer();
      }, 200);
      return;
    }
    answer();
  };
};

describe('TLS and HTTP/2 at the edge (e2e)', () => {
  const load = { inFlight: 0, maxInFlight: 0 };
  const products = new TestUpstream(upstreamAnswer(load));
  const users = new UserServiceInstance();
  let cert: SelfSignedCert;
  let ca: Buffer;
  let gw: TestGateway;
  let tlsPort: number;
  let h2: Http2Client;
  let h1: Http1Client;
  let plain: Http1Client;
  let token: string;

  beforeAll(async () => {
    cert = selfSignedCert();
    ca = cert.ca;
    await Promise.all([products.start(), users.start()]);
    gw = await startAuthGateway(
      {
        tls: { hsts: { maxAgeSeconds: 31_536_000, includeSubDomains: true } },
        services: [
          {
            name: 'product-service',
            basePath: '/api/products',
            targets: [products.origin],
            bodyLimitBytes: 4096,
            auth: {
              default: 'authenticated',
              rules: [{ methods: ['GET', 'HEAD'], policy: 'public' }],
            },
          },
          {
            name: 'user-service',
            basePath: '/api/users',
            targets: [users.url],
            auth: { default: 'authenticated' },
          },
        ],
      },
      { TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: cert.keyFile, TLS_PORT: '0' },
    );
    tlsPort = gw.secure!.port;
    h2 = new Http2Client(`https://localhost:${tlsPort}`, ca);
    h1 = new Http1Client('HTTP/1.1 over TLS', tlsPort, ca);
    plain = new Http1Client('HTTP/1.1', gw.port, null);
    const login = await h2.ask('POST', '/api/auth/login', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(USER),
    });
    expect(login.status).toBe(200);
    token = (JSON.parse(login.body) as { accessToken: string }).accessToken;
  }, 60_000);

  afterAll(async () => {
    await Promise.all([h2?.close(), h1?.close(), plain?.close()]);
    await gw?.close();
    await Promise.all([products.kill(), users.stop()]);
    cert?.remove();
  });

  beforeEach(() => products.reset());

  it('should negotiate h2 for an HTTP/2 client and http/1.1 for an HTTP/1.1 one', async () => {
    const [a, b] = [await h2.ask('GET', '/health/live'), await h1.ask('GET', '/health/live')];
    expect([a.status, a.protocol, b.status, b.protocol]).toEqual([200, 'h2', 200, 'http/1.1']);
  });

  const requests: Array<[string, string, string, (t: string) => Ask, number]> = [
    ['a routed public GET', 'GET', '/api/products/1?q=a', () => ({}), 200],
    [
      'a routed POST with a token',
      'POST',
      '/api/products',
      (t) => ({
        headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
        body: '{"name":"lamp"}',
      }),
      200,
    ],
    [
      'a routed POST without a token',
      'POST',
      '/api/products',
      () => ({ headers: { 'content-type': 'application/json' }, body: '{}' }),
      401,
    ],
    ['a path that is not canonical', 'GET', '/api/products/a%2fb', () => ({}), 400],
    ['an unknown path (Express)', 'GET', '/nowhere', () => ({}), 404],
    ['the auth API without a token (Express)', 'GET', '/api/auth/me', () => ({}), 401],
    [
      'the auth API with a token (Express)',
      'GET',
      '/api/auth/me',
      (t) => ({ headers: { authorization: `Bearer ${t}` } }),
      200,
    ],
    ['readiness (Express)', 'GET', '/health/ready', () => ({}), 200],
    [
      'a declared body over the limit',
      'POST',
      '/api/products',
      (t) => ({ headers: { authorization: `Bearer ${t}` }, body: 'x'.repeat(5000) }),
      413,
    ],
  ];

  it.each(requests)(
    'should give HTTP/2 and HTTP/1.1 over TLS the same answer to %s',
    async (_name, method, path, options, status) => {
      const id = `rq-${Math.random().toString(36).slice(2)}`;
      const ask = (client: Client) => {
        const o = options(token);
        return client.ask(method, path, { ...o, headers: { ...o.headers, 'x-request-id': id } });
      };
      const overH2 = await ask(h2);
      const overH1 = await ask(h1);
      expect(overH2.status).toBe(status);
      expect(compared(overH2)).toEqual(compared(overH1));
      expect(overH2.headers['strict-transport-security']).toBe(HSTS);
      // The refusals that close an HTTP/1.1 connection end only their stream on HTTP/2.
      expect(overH2.headers.connection).toBeUndefined();
      expect((await h2.ask('GET', '/health/live')).status).toBe(200);
    },
  );

  it('should send an HTTP/2 body of undeclared length upstream, and no pseudo-header', async () => {
    // node:http2 sends no content-length of its own: the body's end is the stream's end.
    const res = await h2.ask('POST', '/api/products/items', {
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"name":"chair"}',
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({
      method: 'POST',
      url: '/items',
      body: '{"name":"chair"}',
      pseudoHeaders: [],
      forwardedHost: `localhost:${tlsPort}`,
    });
    expect(products.seen[0].headers['content-length']).toBeUndefined();
  });

  it('should tell the upstream X-Forwarded-Proto https over TLS and http over plain HTTP', async () => {
    const proto = async (client: Client) =>
      (JSON.parse((await client.ask('GET', '/api/products/1')).body) as { forwardedProto: string })
        .forwardedProto;
    expect([await proto(h2), await proto(h1), await proto(plain)]).toEqual([
      'https',
      'https',
      'http',
    ]);
  });

  it('should send HSTS on every answer over TLS and never over plain HTTP', async () => {
    for (const path of ['/api/products/1', '/health/live', '/nowhere', '/api/products/a%2fb']) {
      const [a, b, c] = await Promise.all([
        h2.ask('GET', path),
        h1.ask('GET', path),
        plain.ask('GET', path),
      ]);
      expect([path, a.headers['strict-transport-security']]).toEqual([path, HSTS]);
      expect([path, b.headers['strict-transport-security']]).toEqual([path, HSTS]);
      expect([path, c.headers['strict-transport-security']]).toEqual([path, undefined]);
    }
  });

  it.each(['h2', 'h1'] as const)(
    'should stream a body chunk by chunk to a %s client, before the upstream has ended it',
    async (which) => {
      const res = await (which === 'h2' ? h2 : h1).ask('GET', '/api/products/stream');
      expect(res.status).toBe(200);
      expect(res.body).toBe('one\ntwo\nthree\n');
      // The first chunk left the upstream two pauses before its end, and reached the client so.
      expect(res.endedAt - res.chunkTimes[0]).toBeGreaterThan(1.5 * STREAM_PAUSE_MS);
    },
  );

  it('should relay a 103 Early Hints to an HTTP/2 client before the answer', async () => {
    const interim = new Promise<Record<string, unknown>>((resolve) => {
      const stream = h2.session.request({ ':path': '/api/products/hints' });
      stream.on('headers', (headers) => resolve({ ...headers }));
      stream.resume();
      stream.end();
    });
    expect(await interim).toMatchObject({
      ':status': 103,
      link: '</app.css>; rel=preload; as=style',
    });
    const res = await h2.ask('GET', '/api/products/hints');
    expect([res.status, res.body]).toEqual([200, 'hinted']);
  });

  it(`should serve ${CONCURRENT_STREAMS} concurrent streams over one HTTP/2 connection`, async () => {
    let connections = 0;
    gw.secure!.server.on('secureConnection', () => (connections += 1));
    const client = new Http2Client(`https://localhost:${tlsPort}`, ca);
    try {
      load.maxInFlight = 0;
      const answers = await Promise.all(
        Array.from({ length: CONCURRENT_STREAMS }, (_, i) =>
          client.ask('GET', `/api/products/slow/${i}`),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(new Array(CONCURRENT_STREAMS).fill(200));
      expect(answers.map((a) => (JSON.parse(a.body) as { url: string }).url).sort()).toEqual(
        Array.from({ length: CONCURRENT_STREAMS }, (_, i) => `/slow/${i}`).sort(),
      );
      expect(connections).toBe(1);
      // Each answer takes 200 ms upstream: they were in flight together, not one after another.
      expect(load.maxInFlight).toBeGreaterThanOrEqual(CONCURRENT_STREAMS / 2);
    } finally {
      await client.close();
    }
  });

  const handshake = (version: 'TLSv1.1' | 'TLSv1.2') =>
    new Promise<{ protocol: string | null; error: string | null }>((resolve) => {
      const socket = tlsConnect({
        host: '127.0.0.1',
        port: tlsPort,
        servername: 'localhost',
        ca,
        minVersion: version,
        maxVersion: version,
        // Lets this client offer TLS 1.1 at all: OpenSSL 3 disables it at its default level.
        ciphers: 'DEFAULT@SECLEVEL=0',
      });
      socket.once('secureConnect', () => {
        resolve({ protocol: socket.getProtocol(), error: null });
        socket.destroy();
      });
      socket.once('error', (err: NodeJS.ErrnoException) =>
        resolve({ protocol: null, error: err.code ?? err.message }),
      );
    });

  it('should refuse a TLS 1.1 handshake and accept the same client at TLS 1.2', async () => {
    expect(await handshake('TLSv1.1')).toEqual({
      protocol: null,
      error: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
    });
    expect(await handshake('TLSv1.2')).toEqual({ protocol: 'TLSv1.2', error: null });
  });

  it("should serve the gateway's own endpoints over HTTP/2: admin status, logout", async () => {
    const admin = await h2.ask('POST', '/api/auth/login', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    });
    expect(admin.status).toBe(200);
    const adminToken = (JSON.parse(admin.body) as { accessToken: string }).accessToken;
    const auth = { authorization: `Bearer ${adminToken}` };
    const status = await h2.ask('GET', '/api/admin/status', { headers: auth });
    expect(status.status).toBe(200);
    expect((JSON.parse(status.body) as { config: { tls: unknown } }).config.tls).toEqual({
      hsts: { maxAgeSeconds: 31_536_000, includeSubDomains: true },
    });
    expect((await h2.ask('POST', '/api/auth/logout', { headers: auth })).status).toBe(204);
    expect((await h1.ask('GET', '/api/auth/me', { headers: auth })).status).toBe(401);
  });
});

/** main.ts through ts-node, the way it runs in production: bootstrap starts the TLS listener. */
describe('TLS and HTTP/2: the gateway process', () => {
  const upstream = new TestUpstream(upstreamAnswer({ inFlight: 0, maxInFlight: 0 }));
  let cert: SelfSignedCert;
  let config: { file: string; remove(): void };

  beforeAll(async () => {
    cert = selfSignedCert();
    await upstream.start();
    config = writeConfig({
      tls: { hsts: { maxAgeSeconds: 600 } },
      defaults: { auth: { default: 'public' } },
      services: [{ name: 'products', basePath: '/api/products', targets: [upstream.origin] }],
    });
  });

  afterAll(async () => {
    await upstream.kill();
    config?.remove();
    cert?.remove();
  });

  it.each([
    [{ TLS_CERT_FILE: 'cert' }, 'TLS_KEY_FILE: must be set together with TLS_CERT_FILE'],
    [{ TLS_CERT_FILE: 'cert', TLS_KEY_FILE: '/nonexistent/key.pem' }, 'TLS_KEY_FILE: cannot read'],
  ])(
    'should stop with exit code 1 and name the variable: %j',
    (tls, message) => {
      const env = Object.fromEntries(
        Object.entries(tls).map(([k, v]) => [k, v === 'cert' ? cert.certFile : v]),
      );
      const run = runGatewayToExit({ GATEWAY_CONFIG: config.file, ...env });
      expect(run.status).toBe(1);
      expect(run.stderr + run.stdout).toContain(message);
    },
    70_000,
  );

  it('should serve HTTP/2 with the configured HSTS, and send GOAWAY when it drains', async () => {
    const tlsPort = await closedPort();
    const gateway = await GatewayProcess.start({
      GATEWAY_CONFIG: config.file,
      TLS_PORT: String(tlsPort),
      TLS_CERT_FILE: cert.certFile,
      TLS_KEY_FILE: cert.keyFile,
      DRAIN_DELAY_MS: '300',
      LOG_LEVEL: 'info',
      GATEWAY_ACCESS_LOG: 'false',
    });
    let client: Http2Client | undefined;
    try {
      await eventually(() => gateway.output.includes(`https://127.0.0.1:${tlsPort}`));
      client = new Http2Client(`https://localhost:${tlsPort}`, cert.ca);
      const res = await client.ask('GET', '/api/products/1');
      expect([res.status, res.protocol]).toEqual([200, 'h2']);
      expect(res.headers['strict-transport-security']).toBe('max-age=600');
      expect((JSON.parse(res.body) as { forwardedProto: string }).forwardedProto).toBe('https');
      const plain = await fetch(`${gateway.origin}/health/ready`);
      expect([plain.status, plain.headers.get('strict-transport-security')]).toEqual([200, null]);

      const goaway = new Promise<void>((resolve) =>
        client!.session.once('goaway', () => resolve()),
      );
      gateway.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 100));
      // Within the drain delay the answer still comes, on a session the gateway is closing.
      const during = await client.ask('GET', '/api/products/2');
      expect(during.status).toBe(200);
      await goaway;
      expect(await gateway.exited).toBe(0);
    } finally {
      gateway.kill();
      await client?.close();
    }
  }, 60_000);
});
