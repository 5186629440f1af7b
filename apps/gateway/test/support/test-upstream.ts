import {
  createServer,
  IncomingHttpHeaders,
  IncomingMessage,
  Server,
  ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { freePort } from '../../../../test/support/ports';

/** What an upstream saw of one request (health checks are not recorded). */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** `performance.now()` when the request's headers arrived. */
  at: number;
  /** The whole body arrived (false when the gateway cut the upload). */
  complete: boolean;
}

export type UpstreamBehaviour = (
  req: IncomingMessage,
  res: ServerResponse,
  seen: SeenRequest,
) => void;

/** Answers 200 with what it saw, as JSON. */
export const echo: UpstreamBehaviour = (_req, res, seen) => {
  const body = JSON.stringify(seen);
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
};

/**
 * A real upstream on a loopback address for e2e tests: records every request it receives (except
 * its own `/health/ready`), answers with a replaceable behaviour, and can be killed and brought
 * back on the same port.
 */
export class TestUpstream {
  readonly seen: SeenRequest[] = [];
  healthy = true;
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    public behaviour: UpstreamBehaviour = echo,
    /** A loopback address: 127.0.0.2 and up let several upstreams share one port. */
    readonly host = '127.0.0.1',
  ) {}

  get origin(): string {
    return `http://${this.host}:${this.port}`;
  }

  /** Requests seen, health checks excluded. */
  get count(): number {
    return this.seen.length;
  }

  async start(port = this.port): Promise<this> {
    const server = createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 10_000;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  /** Stops listening and cuts every open connection, like a crashed process. */
  async kill(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  reset(): void {
    this.seen.length = 0;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.url === '/health/ready') {
      res.writeHead(this.healthy ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: this.healthy ? 'ok' : 'error' }));
      return;
    }
    const seen: SeenRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: '',
      at: performance.now(),
      complete: false,
    };
    this.seen.push(seen);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => undefined);
    req.on('end', () => {
      seen.body = Buffer.concat(chunks).toString();
      seen.complete = true;
      this.behaviour(req, res, seen);
    });
  }
}

/** A port that nothing listens on (bound, then released), never one handed out before. */
export function closedPort(): Promise<number> {
  return freePort();
}
