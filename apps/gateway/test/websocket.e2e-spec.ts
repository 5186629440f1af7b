import { writeFileSync } from 'node:fs';
import { AddressInfo, connect, createServer, Socket } from 'node:net';
import WebSocket from 'ws';
import { stringify } from 'yaml';
import { TokenStore } from '../src/auth/token-store/token-store';
import { TunnelRegistry } from '../src/proxy/websocket/tunnel-registry';
import { ConfigReloader } from '../src/reload/config-reloader';
import { hmacToken, tokenClaims } from './support/auth-fixtures';
import { selfSignedCert } from '../../../test/support/self-signed-cert';
import { decodeJwt, deleteKeys, testKeyPrefix, withEnv } from './support/auth-harness';
import { startAuthGateway, tokenFor } from './support/auth-gateway';
import { describeWithRedis, TEST_REDIS_URL } from './support/redis-available';
import { GatewayProcess } from './support/gateway-process';
import { eventually, metric, TestGateway, writeConfig } from './support/test-gateway';
import { TestUpstream } from './support/test-upstream';
import {
  closed,
  nextMessage,
  openSocket,
  refusal,
  WebSocketUpstream,
  WebSocketUpstreamProcess,
} from './support/websocket-upstream';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The route config of these tests: a WebSocket service, the same upstream without WebSockets. */
function routes(origin: string, websockets: Record<string, number> = {}) {
  return {
    websockets,
    services: [
      {
        name: 'chat',
        basePath: '/api/chat',
        targets: [origin],
        websocket: true,
        activeHealth: { enabled: false },
        auth: {
          default: 'authenticated',
          rules: [
            { pathPrefix: '/public', policy: 'public' },
            { pathPrefix: '/admin', policy: 'role:admin' },
          ],
        },
      },
      {
        name: 'plain',
        basePath: '/api/plain',
        targets: [origin],
        activeHealth: { enabled: false },
        auth: { default: 'public' },
      },
    ],
  };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('gateway: WebSocket tunnels (e2e)', () => {
  const upstream = new WebSocketUpstream();
  let gateway: TestGateway;
  let ws: string;
  const open: WebSocket[] = [];

  const connectAs = async (
    path: string,
    headers?: Record<string, string>,
    protocols?: string[],
    compress = true,
  ) => {
    const socket = await openSocket(`${ws}${path}`, { headers, protocols, compress });
    open.push(socket);
    return socket;
  };

  beforeAll(async () => {
    await upstream.start();
    gateway = await startAuthGateway(
      routes(upstream.origin, { maxTunnels: 4, maxTunnelsPerUser: 2 }),
    );
    ws = `ws://127.0.0.1:${gateway.port}`;
  });

  afterEach(async () => {
    for (const socket of open.splice(0)) socket.terminate();
    await eventually(() => upstream.sockets.size === 0);
    upstream.handshakes.length = 0;
  });

  afterAll(async () => {
    await gateway.close();
    await upstream.stop();
  });

  it('should echo text and binary messages through the gateway, with the identity headers and without the token', async () => {
    const token = await tokenFor(gateway, '7');
    const socket = await connectAs('/api/chat/rooms/1?since=5', {
      ...bearer(token),
      'x-user-id': '1',
      'x-request-id': 'ws-echo-1',
    });
    const reply = nextMessage(socket);
    socket.send('hello');
    await expect(reply).resolves.toBe('hello');
    const binary = new Promise<Buffer>((resolve) =>
      socket.once('message', (data, isBinary) => isBinary && resolve(data as Buffer)),
    );
    socket.send(Buffer.from([0, 1, 2, 255]));
    await expect(binary).resolves.toEqual(Buffer.from([0, 1, 2, 255]));
    // permessage-deflate, negotiated between the two ends, on a message large enough to compress.
    expect(socket.extensions).toContain('permessage-deflate');
    const large = nextMessage(socket);
    socket.send('compressible '.repeat(1_000));
    await expect(large).resolves.toBe('compressible '.repeat(1_000));

    const [seen] = upstream.handshakes;
    expect(seen.url).toBe('/rooms/1?since=5');
    expect(seen.headers['x-user-id']).toBe('7');
    expect(seen.headers['x-user-roles']).toBe('user');
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['x-request-id']).toBe('ws-echo-1');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-host']).toBe(`127.0.0.1:${gateway.port}`);
    expect(seen.headers.host).toBe(new URL(upstream.origin).host);
  });

  it('should deliver 1,000 messages each way in order', async () => {
    const socket = await connectAs('/api/chat/public/stream');
    const received: string[] = [];
    const all = new Promise<void>((resolve) =>
      socket.on('message', (data: Buffer) => {
        received.push(data.toString());
        if (received.length === 1_000) resolve();
      }),
    );
    for (let i = 0; i < 1_000; i++) socket.send(`message ${i} ${'x'.repeat(i % 300)}`);
    await all;
    expect(received).toEqual(
      Array.from({ length: 1_000 }, (_, i) => `message ${i} ${'x'.repeat(i % 300)}`),
    );
  });

  it('should answer 401 in the error shape without a token, and 403 without the role', async () => {
    const missing = await refusal(`${ws}/api/chat/rooms/1`);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    expect(missing.json).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: 'authentication required',
      requestId: expect.any(String),
    });
    const forged = await refusal(`${ws}/api/chat/rooms/1`, { headers: bearer('a.b.c') });
    expect(forged.status).toBe(401);
    const token = await tokenFor(gateway, '8');
    const admin = await refusal(`${ws}/api/chat/admin/feed`, { headers: bearer(token) });
    expect(admin.status).toBe(403);
    expect(admin.json.message).toBe('requires role admin');
    expect(upstream.handshakes).toEqual([]);
  });

  it('should take the browser form of the token from Sec-WebSocket-Protocol and offer the upstream only the rest', async () => {
    const token = await tokenFor(gateway, '9');
    const socket = await connectAs('/api/chat/rooms/2', undefined, [`bearer.${token}`, 'chat.v1']);
    expect(socket.protocol).toBe('chat.v1');
    expect(upstream.handshakes[0].headers['sec-websocket-protocol']).toBe('chat.v1');
    expect(upstream.handshakes[0].headers['x-user-id']).toBe('9');
    const both = await refusal(`${ws}/api/chat/rooms/2`, {
      headers: bearer(token),
      protocols: [`bearer.${token}`, 'chat.v1'],
    });
    expect(both.status).toBe(400);
    expect(both.json.message).toBe('a token in both Authorization and Sec-WebSocket-Protocol');
  });

  it('should refuse the upgrade on a route without websocket: true, and off the routes', async () => {
    const plain = await refusal(`${ws}/api/plain/socket`);
    expect(plain.status).toBe(400);
    expect(plain.json.message).toBe('plain does not accept WebSocket upgrades');
    expect((await refusal(`${ws}/health/live`)).status).toBe(404);
    expect((await refusal(`${ws}/api/chat/internal/x`)).status).toBe(404);
    expect(upstream.handshakes).toEqual([]);
  });

  it('should relay an upstream’s own refusal of the handshake, with the request id', async () => {
    const refused = await refusal(`${ws}/api/chat/public/refuse`, {
      headers: { 'x-request-id': 'ws-refused-1' },
    });
    expect(refused.status).toBe(401);
    expect(refused.headers['x-request-id']).toBe('ws-refused-1');
    expect(refused.headers['x-upstream-target']).toBe(upstream.origin);
    const text = await gateway.metrics();
    expect(
      metric(text, 'gateway_websocket_refused_total{service="chat",reason="upstream-refused"}'),
    ).toBe(1);
    expect(gateway.get(TunnelRegistry).open).toBe(0);
  });

  it('should answer a handshake of another version 426 naming 13, and a bad key 400', async () => {
    const raw = (version: string, key: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(gateway.port, '127.0.0.1');
        let data = '';
        socket.on('data', (chunk) => (data += chunk.toString()));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
        socket.write(
          'GET /api/chat/public/x HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
            `Sec-WebSocket-Version: ${version}\r\nSec-WebSocket-Key: ${key}\r\n\r\n`,
        );
      });
    const old = await raw('8', 'dGhlIHNhbXBsZSBub25jZQ==');
    expect(old).toMatch(/^HTTP\/1\.1 426 Upgrade Required\r\n/);
    expect(old).toMatch(/\r\nsec-websocket-version: 13\r\n/);
    const badKey = await raw('13', 'short');
    expect(badKey).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(badKey).toContain('Sec-WebSocket-Key must be a base64 16-byte nonce');
  });

  it('should close a revoked token’s tunnels within 1 s with 1008, and leave others open', async () => {
    const token = await tokenFor(gateway, '11');
    const other = await tokenFor(gateway, '12');
    const revoked = await connectAs('/api/chat/rooms/3', bearer(token));
    const kept = await connectAs('/api/chat/rooms/3', bearer(other));
    const end = closed(revoked);
    const started = performance.now();
    const logout = await gateway.send('POST', '/api/auth/logout', { headers: bearer(token) });
    expect(logout.status).toBe(204);
    const { code, reason, at } = await end;
    expect(code).toBe(1008);
    expect(reason).toBe('token revoked');
    expect(at - started).toBeLessThan(1_000);
    const echo = nextMessage(kept);
    kept.send('still here');
    await expect(echo).resolves.toBe('still here');
    await eventually(() => upstream.sockets.size === 1);
  });

  it('should close a tunnel with 1008 when its token expires', async () => {
    const claims = tokenClaims({ sub: '13', exp: Math.floor(Date.now() / 1000) + 2 });
    await gateway
      .get(TokenStore as unknown as new () => TokenStore)
      .register(claims.jti as string, '13', 2_000);
    const socket = await connectAs('/api/chat/rooms/5', bearer(hmacToken(claims)));
    const { code, reason, at } = await closed(socket, 4_000);
    expect(code).toBe(1008);
    expect(reason).toBe('token expired');
    expect(Math.abs(Date.now() - (claims.exp as number) * 1000)).toBeLessThan(500);
    expect(at).toBeGreaterThan(0);
  });

  it('should hold the per-user limit with 429 and the gateway limit with 503, before the upgrade', async () => {
    const a = await tokenFor(gateway, '21');
    const b = await tokenFor(gateway, '22');
    await connectAs('/api/chat/rooms/4', bearer(a));
    const second = await connectAs('/api/chat/rooms/4', bearer(a));
    const overUser = await refusal(`${ws}/api/chat/rooms/4`, { headers: bearer(a) });
    expect(overUser.status).toBe(429);
    expect(overUser.json.message).toBe('too many WebSocket tunnels for this user');
    await connectAs('/api/chat/rooms/4', bearer(b));
    await connectAs('/api/chat/public/4');
    const overGateway = await refusal(`${ws}/api/chat/public/4`);
    expect(overGateway.status).toBe(503);
    expect(overGateway.json.message).toBe('too many WebSocket tunnels');
    // A tunnel that closes gives its place back.
    const end = closed(second);
    second.close(1000, 'done');
    await end;
    await eventually(() => gateway.get(TunnelRegistry).open === 3);
    await connectAs('/api/chat/rooms/4', bearer(a));
    const text = await gateway.metrics();
    expect(
      metric(text, 'gateway_websocket_refused_total{service="chat",reason="user-limit"}'),
    ).toBe(1);
    expect(
      metric(text, 'gateway_websocket_refused_total{service="chat",reason="gateway-limit"}'),
    ).toBe(1);
    expect(metric(text, 'gateway_websocket_tunnels_open{service="chat"}')).toBe(4);
  });

  it('should count the bytes each way and the tunnels open, in the metrics and the admin status', async () => {
    const before = await gateway.metrics();
    // Uncompressed, so that the frame sizes are known.
    const socket = await connectAs('/api/chat/public/bytes', undefined, undefined, false);
    const reply = nextMessage(socket);
    socket.send('x'.repeat(1_000));
    await reply;
    const after = await gateway.metrics();
    const grew = (name: string) => metric(after, name) - metric(before, name);
    // 1,000 bytes of payload in a frame of 8 bytes of header (masked) one way, 4 the other.
    expect(grew('gateway_websocket_bytes_total{service="chat",direction="to_upstream"}')).toBe(
      1_008,
    );
    expect(grew('gateway_websocket_bytes_total{service="chat",direction="to_client"}')).toBe(1_004);
    expect(metric(after, 'gateway_websocket_tunnels_open{service="chat"}')).toBe(1);
    expect(metric(after, 'gateway_requests_total{service="chat",status="101"}')).toBeGreaterThan(0);

    const claims = tokenClaims({ sub: '1', roles: ['admin'] });
    await gateway
      .get(TokenStore as unknown as new () => TokenStore)
      .register(claims.jti as string, '1', 600_000);
    const status = await gateway.send('GET', '/api/admin/status', {
      headers: bearer(hmacToken(claims)),
    });
    expect(status.status).toBe(200);
    const services = status.json.services as { name: string; tunnels: number }[];
    expect(services.map(({ name, tunnels }) => [name, tunnels])).toEqual([
      ['chat', 1],
      ['plain', 0],
    ]);
    expect(status.json.config.services.map((s: { websocket: boolean }) => s.websocket)).toEqual([
      true,
      false,
    ]);
  });

  it('should name the services that accept upgrades in the combined OpenAPI document', async () => {
    const docs = await gateway.send('GET', '/docs/openapi.json');
    expect(docs.status).toBe(200);
    expect(docs.json.info.description).toContain(
      'WebSocket upgrades (`Upgrade: websocket`, the token in `Authorization` or as a ' +
        '`bearer.<token>` subprotocol) are accepted under `/api/chat` (chat).',
    );
  });

  it('should still proxy a request with another Upgrade (h2c) as an ordinary request', async () => {
    const http = new TestUpstream();
    await http.start();
    const other = await new TestGateway({
      services: [
        {
          name: 'chat',
          basePath: '/api/chat',
          targets: [http.origin],
          websocket: true,
          activeHealth: { enabled: false },
        },
      ],
    }).start();
    try {
      const reply = await other.sendWithNode('GET', '/api/chat/page', {
        connection: 'Upgrade, HTTP2-Settings',
        upgrade: 'h2c',
        'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA',
      });
      expect(reply.status).toBe(200);
      expect(http.seen[0].headers.upgrade).toBeUndefined();
    } finally {
      await other.close();
      await http.kill();
    }
  });
});

describe('gateway: WebSocket tunnels end with either side (e2e)', () => {
  it('should close the client side when the upstream process is killed', async () => {
    const upstream = await new WebSocketUpstreamProcess().start();
    const gateway = await new TestGateway(routes(upstream.origin)).start();
    try {
      const socket = await openSocket(`ws://127.0.0.1:${gateway.port}/api/chat/x`);
      const reply = nextMessage(socket);
      socket.send('ping');
      await expect(reply).resolves.toBe('ping');
      const end = closed(socket);
      await upstream.kill();
      const { code, reason } = await end;
      expect(code).toBe(1014);
      expect(reason).toBe('upstream closed the connection');
      await eventually(() => gateway.get(TunnelRegistry).open === 0);
    } finally {
      await gateway.close();
      await upstream.kill();
    }
  });

  it('should close the upstream side with 1001 when the client goes away, and answer 502 once the upstream is gone', async () => {
    const upstream = await new WebSocketUpstream().start();
    const gateway = await new TestGateway(routes(upstream.origin)).start();
    try {
      const socket = await openSocket(`ws://127.0.0.1:${gateway.port}/api/chat/x`);
      await eventually(() => upstream.sockets.size === 1);
      const [server] = upstream.sockets;
      const end = new Promise<number>((resolve) => server.once('close', (code) => resolve(code)));
      socket.terminate();
      await expect(end).resolves.toBe(1001);
      await upstream.stop();
      const failed = await refusal(`ws://127.0.0.1:${gateway.port}/api/chat/x`);
      expect(failed.status).toBe(502);
      expect(failed.json.message).toBe('chat failed to answer');
    } finally {
      await gateway.close();
      await upstream.stop();
    }
  });

  it('should give back the place of a client that left during the handshake', async () => {
    const upstream = await new WebSocketUpstream().start();
    // Reads and never answers.
    const held = new Set<Socket>();
    const hung = createServer((socket) => held.add(socket.resume()));
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const hungOrigin = `http://127.0.0.1:${(hung.address() as AddressInfo).port}`;
    const config = routes(upstream.origin, { maxTunnelsPerUser: 1 });
    config.services.push({ ...config.services[0], name: 'stall', basePath: '/api/stall' });
    config.services[2].targets = [hungOrigin];
    const gateway = await new TestGateway(config).start();
    try {
      for (let i = 0; i < 3; i++) {
        const client = connect(gateway.port, '127.0.0.1');
        client.on('error', () => undefined);
        client.write(
          'GET /api/stall/public/x HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\n' +
            'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        );
        await eventually(() => held.size === i + 1);
        client.destroy();
      }
      await sleep(100);
      // Over the limit of one, had a place not been given back.
      const socket = await openSocket(`ws://127.0.0.1:${gateway.port}/api/chat/public/x`);
      socket.terminate();
      // And the handshakes to the upstream were given up.
      await eventually(() => [...held].every((s) => s.destroyed));
    } finally {
      await gateway.close();
      await upstream.stop();
      for (const socket of held) socket.destroy();
      hung.close();
    }
  });

  it('should close an idle tunnel with 1001, and not one that pings', async () => {
    const upstream = await new WebSocketUpstream().start();
    const gateway = await new TestGateway(routes(upstream.origin, { idleTimeoutMs: 400 })).start();
    try {
      const url = `ws://127.0.0.1:${gateway.port}/api/chat/x`;
      const idle = await openSocket(url);
      const busy = await openSocket(url);
      const pinger = setInterval(() => busy.ping(), 100);
      const started = performance.now();
      const { code, reason, at } = await closed(idle);
      clearInterval(pinger);
      expect(code).toBe(1001);
      expect(reason).toBe('idle timeout');
      expect(at - started).toBeGreaterThanOrEqual(350);
      expect(busy.readyState).toBe(WebSocket.OPEN);
      busy.terminate();
    } finally {
      await gateway.close();
      await upstream.stop();
    }
  });
});

describe('gateway: WebSocket tunnels and a config reload (e2e)', () => {
  it('should accept upgrades once a reload turns websocket on, and keep a tunnel open across reloads', async () => {
    const upstream = await new WebSocketUpstream().start();
    const config = routes(upstream.origin);
    const gateway = await new TestGateway(config).start();
    const reload = (next: unknown) => {
      writeFileSync(gateway.configFile, stringify(next));
      expect(gateway.get(ConfigReloader).reload('SIGHUP').result).toBe('success');
    };
    try {
      const url = `ws://127.0.0.1:${gateway.port}`;
      const tunnel = await openSocket(`${url}/api/chat/x`);
      expect((await refusal(`${url}/api/plain/x`)).status).toBe(400);
      reload({
        ...config,
        services: [config.services[0], { ...config.services[1], websocket: true }],
      });
      const plain = await openSocket(`${url}/api/plain/x`);
      const reply = nextMessage(plain);
      plain.send('after the reload');
      await expect(reply).resolves.toBe('after the reload');
      // Off everywhere: refused like any route without the flag, never sent on as a plain request.
      reload({
        ...config,
        services: config.services.map((service) => ({ ...service, websocket: false })),
      });
      const off = await refusal(`${url}/api/chat/x`);
      expect([off.status, off.json.message]).toEqual([
        400,
        'chat does not accept WebSocket upgrades',
      ]);
      expect(upstream.handshakes).toHaveLength(2);
      const echo = nextMessage(tunnel);
      tunnel.send('still open');
      await expect(echo).resolves.toBe('still open');
      tunnel.terminate();
      plain.terminate();
    } finally {
      await gateway.close();
      await upstream.stop();
    }
  });
});

describe('gateway: WebSocket tunnels over TLS (e2e)', () => {
  it('should tunnel wss:// on the TLS listener like ws://, with X-Forwarded-Proto: https', async () => {
    const upstream = await new WebSocketUpstream().start();
    const cert = selfSignedCert();
    const gateway = await withEnv(
      { TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: cert.keyFile, TLS_PORT: '0' },
      () => new TestGateway(routes(upstream.origin)).start(),
    );
    try {
      const socket = await new Promise<WebSocket>((resolve, reject) => {
        const client = new WebSocket(`wss://localhost:${gateway.secure!.port}/api/chat/x`, {
          ca: cert.ca,
        });
        client.once('open', () => resolve(client));
        client.once('error', reject);
      });
      const reply = nextMessage(socket);
      socket.send('over tls');
      await expect(reply).resolves.toBe('over tls');
      expect(upstream.handshakes[0].headers['x-forwarded-proto']).toBe('https');
      socket.terminate();
    } finally {
      await gateway.close();
      await upstream.stop();
      cert.remove();
    }
  });
});

describeWithRedis('gateway: WebSocket revocation across instances through Redis (e2e)', () => {
  it('should close on one instance, within 1 s, the tunnel of a token revoked on the other', async () => {
    const upstream = await new WebSocketUpstream().start();
    const prefix = testKeyPrefix();
    const env = { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix };
    const a = await startAuthGateway(routes(upstream.origin), env);
    const b = await startAuthGateway(routes(upstream.origin), env);
    try {
      const storeOf = (g: TestGateway) => g.get(TokenStore as unknown as new () => TokenStore);
      await eventually(() => storeOf(a).cacheCoherent() && storeOf(b).cacheCoherent());
      const token = await tokenFor(a, '31');
      const socket = await openSocket(`ws://127.0.0.1:${b.port}/api/chat/rooms/9`, {
        headers: bearer(token),
      });
      const end = closed(socket);
      const started = performance.now();
      const { jti, sub } = decodeJwt(token).payload as { jti: string; sub: string };
      await storeOf(a).revoke(jti, sub);
      const { code, reason, at } = await end;
      expect(code).toBe(1008);
      expect(reason).toBe('token revoked');
      expect(at - started).toBeLessThan(1_000);
    } finally {
      await a.close();
      await b.close();
      await upstream.stop();
      await deleteKeys(TEST_REDIS_URL, prefix);
    }
  });
});

describe('gateway: WebSocket tunnels on SIGTERM (e2e, as a process)', () => {
  it('should keep tunnels through the drain delay, then close them with 1001 and exit 0', async () => {
    const upstream = await new WebSocketUpstream().start();
    const config = writeConfig(routes(upstream.origin));
    const gateway = await GatewayProcess.start({
      GATEWAY_CONFIG: config.file,
      LOG_LEVEL: 'error',
      DRAIN_DELAY_MS: '500',
    });
    const port = gateway.port;
    try {
      const socket = await openSocket(`ws://127.0.0.1:${port}/api/chat/public/x`);
      const end = closed(socket);
      const signalled = performance.now();
      gateway.child.kill('SIGTERM');
      await sleep(200);
      // Still relaying during the drain delay.
      const reply = nextMessage(socket);
      socket.send('during the drain');
      await expect(reply).resolves.toBe('during the drain');
      // A new tunnel would be cut moments later: refused while draining.
      const late = await refusal(`ws://127.0.0.1:${port}/api/chat/public/x`);
      expect(late.status).toBe(503);
      expect(late.json.message).toBe('the gateway is shutting down');
      const { code, reason, at } = await end;
      expect(code).toBe(1001);
      expect(reason).toBe('gateway shutting down');
      expect(at - signalled).toBeGreaterThanOrEqual(450);
      await expect(gateway.exited).resolves.toBe(0);
    } finally {
      gateway.kill();
      config.remove();
      await upstream.stop();
    }
  }, 70_000);
});
