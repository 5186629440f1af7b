import { ChildProcess, spawn } from 'node:child_process';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import WebSocket, { RawData, WebSocketServer } from 'ws';
import { freePort } from '../../../../test/support/ports';

/** What the upstream saw of one WebSocket handshake. */
export interface SeenHandshake {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/**
 * A real WebSocket upstream (`ws`) on a loopback port: it echoes every message as it came (text
 * or binary), answers `/health/ready` like the services, selects the first subprotocol offered,
 * refuses handshakes of paths ending in `/refuse`, records each handshake and keeps its sockets to close or cut them.
 */
export class WebSocketUpstream {
  readonly handshakes: SeenHandshake[] = [];
  readonly sockets = new Set<WebSocket>();
  private server?: Server;
  private wss?: WebSocketServer;
  port = 0;

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      res.writeHead(req.url === '/health/ready' ? 200 : 404, { 'content-type': 'text/plain' });
      res.end(req.url === '/health/ready' ? 'ok' : 'not a WebSocket handshake');
    });
    const wss = new WebSocketServer({
      server,
      // Negotiated end to end: the gateway passes compressed frames as they are.
      perMessageDeflate: true,
      // A handshake of a path ending in /refuse is answered 401 by the upstream itself.
      verifyClient: (info: { req: { url?: string } }) => !info.req.url?.endsWith('/refuse'),
      handleProtocols: (protocols) => protocols.values().next().value ?? false,
    });
    wss.on('connection', (socket, req) => {
      this.handshakes.push({ url: req.url ?? '', headers: req.headers });
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('message', (data: RawData, isBinary) => socket.send(data, { binary: isBinary }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.wss = wss;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.terminate();
    this.wss?.close();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }
}

const ROOT = join(__dirname, '..', '..', '..', '..');

/** An echo upstream in a process of its own, to be killed (SIGKILL) under an open tunnel. */
export class WebSocketUpstreamProcess {
  private child?: ChildProcess;
  port = 0;

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.port = await freePort();
    const script = `
      const http = require('node:http');
      const { WebSocketServer } = require('ws');
      const server = http.createServer((req, res) => res.end('ok'));
      new WebSocketServer({ server }).on('connection', (s) =>
        s.on('message', (d, binary) => s.send(d, { binary })));
      server.listen(${this.port}, '127.0.0.1', () => process.stdout.write('ready\\n'));`;
    const child = spawn(process.execPath, ['-e', script], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`upstream exited with ${code}`)));
      child.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) resolve();
      });
    });
    return this;
  }

  /** SIGKILL, as abrupt as a crash; resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}

/** What a client saw of a handshake the gateway refused. */
export interface Refusal {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- assertions read the error body
  readonly json: any;
}

/** Opens a WebSocket, resolving once it is open; a refused handshake rejects with its status. */
export function openSocket(
  url: string,
  options: { headers?: Record<string, string>; protocols?: string[]; compress?: boolean } = {},
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, options.protocols ?? [], {
      headers: options.headers,
      perMessageDeflate: options.compress ?? true,
    });
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (_req, res) =>
      reject(new Error(`handshake answered ${res.statusCode}`)),
    );
    socket.once('error', reject);
  });
}

/** The gateway's answer to a handshake that is not upgraded. */
export function refusal(
  url: string,
  options: { headers?: Record<string, string>; protocols?: string[] } = {},
): Promise<Refusal> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, options.protocols ?? [], { headers: options.headers });
    socket.once('open', () => {
      socket.terminate();
      reject(new Error('the handshake was upgraded'));
    });
    socket.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
      });
    });
    socket.once('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

/** The close a client received, with the time it came (`performance.now()`). */
export interface Closed {
  readonly code: number;
  readonly reason: string;
  readonly at: number;
}

/** The close `socket` receives; rejects when none comes within `timeoutMs`. */
export function closed(socket: WebSocket, timeoutMs = 5_000): Promise<Closed> {
  if (socket.readyState === WebSocket.CLOSED) {
    return Promise.reject(new Error('already closed'));
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no close within ${timeoutMs} ms`)), timeoutMs);
    socket.once('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString(), at: performance.now() });
    });
  });
}

/** The next message on `socket`, as text. */
export function nextMessage(socket: WebSocket): Promise<string> {
  return new Promise((resolve) =>
    socket.once('message', (data: RawData) => resolve(Buffer.from(data as Buffer).toString())),
  );
}
