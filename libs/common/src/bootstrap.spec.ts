import { createServer, Server } from 'node:http';
import { AddressInfo, connect } from 'node:net';
import { limitSlowClients } from './bootstrap';
import { serverConfig } from './server.config';

describe('limitSlowClients', () => {
  let server: Server;

  beforeEach(async () => {
    server = createServer((_req, res) => res.end('ok'));
    limitSlowClients(server, 1_000);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('should answer 408 and close a connection whose headers never finish, soon after the bound', async () => {
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    const started = performance.now();
    let reply = '';
    socket.on('data', (chunk: Buffer) => (reply += chunk.toString()));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => socket.write('X-Slow: a\r\n'), 100);
    await new Promise((resolve) => socket.once('close', resolve));
    clearInterval(drip);
    const ms = performance.now() - started;

    expect(reply.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
    expect(ms).toBeGreaterThanOrEqual(900);
    // The bound plus one checking interval, plus slack for a loaded machine.
    expect(ms).toBeLessThan(4_000);
  });
});

describe('serverConfig', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('should bound header time to 10 s by default and take HTTP_HEADERS_TIMEOUT_MS', () => {
    delete process.env.HTTP_HEADERS_TIMEOUT_MS;
    expect(serverConfig(1)().headersTimeoutMs).toBe(10_000);
    process.env.HTTP_HEADERS_TIMEOUT_MS = '2500';
    expect(serverConfig(1)().headersTimeoutMs).toBe(2_500);
  });

  it('should refuse a headers timeout below one second, naming the variable', () => {
    process.env.HTTP_HEADERS_TIMEOUT_MS = '10';
    expect(() => serverConfig(1)()).toThrow(/HTTP_HEADERS_TIMEOUT_MS/);
  });

  it('should read the TLS variables for the edge only, so services started beside it ignore them', () => {
    process.env.TLS_CERT_FILE = '/nonexistent/cert.pem';
    delete process.env.TLS_KEY_FILE;
    expect(serverConfig(1)().tls).toBeNull();
    expect(() => serverConfig(1, { tls: true })()).toThrow(
      /TLS_KEY_FILE: must be set together with TLS_CERT_FILE/,
    );
  });
});
