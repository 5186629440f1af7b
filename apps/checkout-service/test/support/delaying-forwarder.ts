import { createServer, IncomingHttpHeaders, request as httpRequest, Server } from 'node:http';
import { AddressInfo } from 'node:net';

/**
 * A tiny HTTP forwarder in front of a real service that holds each request for `delayMs` before
 * passing it on, so a test can act while a request is still in flight. Records what it received.
 */
export class DelayingForwarder {
  delayMs = 0;
  readonly received: Array<{ method: string; path: string; headers: IncomingHttpHeaders }> = [];
  private readonly server: Server;

  constructor(private readonly target: string) {
    this.server = createServer((req, res) => {
      this.received.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
      const forward = () => {
        const upstream = httpRequest(
          new URL(req.url ?? '/', this.target),
          { method: req.method, headers: { ...req.headers, host: new URL(this.target).host } },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        upstream.on('error', () => {
          if (!res.headersSent) res.writeHead(502);
          res.end();
        });
        req.pipe(upstream);
      };
      setTimeout(forward, this.delayMs);
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
