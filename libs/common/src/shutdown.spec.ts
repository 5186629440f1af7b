import { Agent, createServer, IncomingHttpHeaders, request, Server } from 'node:http';
import { AddressInfo, connect, Socket } from 'node:net';
import { serverConfig } from './server.config';
import { drainHttpServer, ShutdownState } from './shutdown';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function get(port: number, path: string, agent: Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

/** A raw keep-alive connection that has had one answered request and now sits idle. */
async function idleKeepAliveConnection(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  let reply = '';
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.endsWith('\r\n\r\nok')) resolve();
    });
    socket.write('GET /fast HTTP/1.1\r\nHost: x\r\n\r\n');
  });
  expect(reply).toMatch(/^HTTP\/1\.1 200/);
  expect(reply.toLowerCase()).toContain('connection: keep-alive');
  return socket;
}

describe('drainHttpServer', () => {
  let server: Server;
  let port: number;
  let state: ShutdownState;
  /** Requests to `/slow` wait here until the test lets them answer. */
  let held: Array<() => void>;
  let arrived: Array<() => void>;

  /** Resolves once `count` requests to `/slow` are held. */
  function slowRequestsHeld(count: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => (held.length >= count ? resolve() : arrived.push(check));
      check();
    });
  }

  beforeEach(async () => {
    held = [];
    arrived = [];
    state = new ShutdownState();
    server = createServer((req, res) => {
      if (req.url === '/slow') {
        held.push(() => res.end('slow ok'));
        arrived.splice(0).forEach((notify) => notify());
        return;
      }
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterEach(async () => {
    server.closeAllConnections();
    if (server.listening) await new Promise((resolve) => server.close(resolve));
  });

  it('should mark the state draining at once, before the delay is over', async () => {
    const drained = drainHttpServer(server, state, { delayMs: 200, timeoutMs: 5_000 });
    expect(state.isDraining).toBe(true);
    expect(server.listening).toBe(true);
    await expect(drained).resolves.toBe('drained');
    expect(server.listening).toBe(false);
  });

  it('should tell its closing listeners when the delay is over, while the server still listens', async () => {
    const calls: { at: number; listening: boolean }[] = [];
    state.onListenerClosing(() =>
      calls.push({ at: performance.now(), listening: server.listening }),
    );
    const started = performance.now();
    const drained = drainHttpServer(server, state, { delayMs: 200, timeoutMs: 5_000 });
    expect(calls).toEqual([]);
    await expect(drained).resolves.toBe('drained');
    expect(calls).toHaveLength(1);
    expect(calls[0].listening).toBe(true);
    expect(calls[0].at - started).toBeGreaterThanOrEqual(195);
  });

  it('should keep serving during the delay with Connection: close, then refuse connections', async () => {
    const agent = new Agent({ keepAlive: true });
    try {
      const before = await get(port, '/fast', agent);
      expect(before.headers.connection).toBe('keep-alive');

      const drained = drainHttpServer(server, state, { delayMs: 500, timeoutMs: 5_000 });
      const during = await Promise.all([1, 2, 3].map(() => get(port, '/fast', agent)));
      expect(during.map((r) => [r.status, r.body, r.headers.connection])).toEqual([
        [200, 'ok', 'close'],
        [200, 'ok', 'close'],
        [200, 'ok', 'close'],
      ]);
      // The delay is not cut short by the server falling idle.
      expect(server.listening).toBe(true);

      await expect(drained).resolves.toBe('drained');
      await expect(get(port, '/fast')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      agent.destroy();
    }
  });

  /** Writes a request on `socket` and resolves with whatever comes back before the socket closes. */
  function exchangeOn(socket: Socket): Promise<string> {
    return new Promise((resolve) => {
      let reply = '';
      socket.removeAllListeners('data');
      socket.removeAllListeners('error');
      socket.on('data', (chunk: Buffer) => (reply += chunk.toString()));
      // A reset is one way for the server to drop the request; the reply so far says what came back.
      socket.on('error', () => undefined);
      socket.once('close', () => resolve(reply));
      socket.write('POST /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
    });
  }

  it('should answer a request sent on an idle keep-alive connection as the drain begins', async () => {
    const socket = await idleKeepAliveConnection(port);
    const drained = drainHttpServer(server, state, { delayMs: 300, timeoutMs: 5_000 });
    const reply = await exchangeOn(socket);
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(reply.toLowerCase()).toContain('connection: close');
    expect(reply.endsWith('\r\n\r\nok')).toBe(true);
    await expect(drained).resolves.toBe('drained');
  });

  it('should lose that request without a delay: why the delay exists', async () => {
    const socket = await idleKeepAliveConnection(port);
    const drained = drainHttpServer(server, state, { delayMs: 0, timeoutMs: 5_000 });
    await expect(exchangeOn(socket)).resolves.toBe('');
    await expect(drained).resolves.toBe('drained');
  });

  it('should close an idle keep-alive connection and let a request in flight finish', async () => {
    const idle = await idleKeepAliveConnection(port);
    const idleClosed = new Promise((resolve) => idle.once('close', resolve));
    const slow = get(port, '/slow');
    await slowRequestsHeld(1);

    const drained = drainHttpServer(server, state, { delayMs: 0, timeoutMs: 10_000 });
    await idleClosed;
    // The listener is closed while the request is still being served.
    await expect(get(port, '/fast')).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    held[0]();
    await expect(slow).resolves.toMatchObject({ status: 200, body: 'slow ok' });
    await expect(drained).resolves.toBe('drained');
  });

  it('should close a keep-alive connection once its response from before the drain has gone out', async () => {
    const agent = new Agent({ keepAlive: true });
    try {
      const slow = get(port, '/slow', agent);
      await slowRequestsHeld(1);
      const drained = drainHttpServer(server, state, { delayMs: 0, timeoutMs: 10_000 });
      held[0]();
      await expect(slow).resolves.toMatchObject({ status: 200, body: 'slow ok' });
      const started = performance.now();
      // Without closing it, Node would keep that connection for its 5 s keep-alive timeout.
      await expect(drained).resolves.toBe('drained');
      expect(performance.now() - started).toBeLessThan(2_000);
    } finally {
      agent.destroy();
    }
  });

  it('should cut the requests still running at the bound', async () => {
    const slow = get(port, '/slow');
    await slowRequestsHeld(1);
    const started = performance.now();

    await expect(drainHttpServer(server, state, { delayMs: 0, timeoutMs: 300 })).resolves.toBe(
      'forced',
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    await expect(slow).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(server.listening).toBe(false);
  });
});

describe('serverConfig drain settings', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('should wait 6 s before closing in production and 1 s otherwise, 10 s for requests in flight', () => {
    delete process.env.DRAIN_DELAY_MS;
    delete process.env.DRAIN_TIMEOUT_MS;
    process.env.NODE_ENV = 'production';
    expect(serverConfig(1)()).toMatchObject({ drainDelayMs: 6_000, drainTimeoutMs: 10_000 });
    process.env.NODE_ENV = 'development';
    expect(serverConfig(1)()).toMatchObject({ drainDelayMs: 1_000, drainTimeoutMs: 10_000 });
    process.env.NODE_ENV = 'test';
    expect(serverConfig(1)()).toMatchObject({ drainDelayMs: 1_000 });
  });

  it('should take DRAIN_DELAY_MS and DRAIN_TIMEOUT_MS, 0 included', () => {
    process.env.NODE_ENV = 'production';
    process.env.DRAIN_DELAY_MS = '0';
    process.env.DRAIN_TIMEOUT_MS = '2500';
    expect(serverConfig(1)()).toMatchObject({ drainDelayMs: 0, drainTimeoutMs: 2_500 });
  });

  it.each([
    ['DRAIN_DELAY_MS', '-1'],
    ['DRAIN_DELAY_MS', 'soon'],
    ['DRAIN_DELAY_MS', '60001'],
    ['DRAIN_TIMEOUT_MS', '1.5'],
  ])('should refuse %s=%p, naming the variable', (name, value) => {
    process.env[name] = value;
    expect(() => serverConfig(1)()).toThrow(new RegExp(`Invalid configuration: ${name}`));
  });
});
