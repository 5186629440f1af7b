import { AddressInfo, connect, createServer, Server, Socket } from 'node:net';

/** One client connection through the proxy, and what it has held back. */
class Link {
  holding = false;
  readonly backlog: Array<Buffer | null> = [];

  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
  ) {}

  /** Sends what was held back (`null` is the upstream's end), then passes everything through. */
  flush(): void {
    this.holding = false;
    for (const chunk of this.backlog.splice(0)) {
      if (chunk === null) this.client.end();
      else this.client.write(chunk);
    }
  }
}

/**
 * A TCP proxy in front of a real app that keeps chosen requests in flight for as long as a test
 * needs: once a connection carries a request whose bytes match `holds`, the app's answer on that
 * connection is held back until `release()`. Every other connection passes straight through.
 */
export class HoldingProxy {
  private server?: Server;
  private readonly links = new Set<Link>();
  private heldCount = 0;
  private waiters: Array<() => void> = [];
  port = 0;

  constructor(
    private readonly targetPort: number,
    private readonly holds: (requestBytes: string) => boolean,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Requests held so far, released or not. */
  get held(): number {
    return this.heldCount;
  }

  async start(): Promise<void> {
    const server = createServer((client) => this.link(client));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
  }

  /** Resolves once `count` requests have been held. */
  whenHeld(count: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => (this.heldCount >= count ? resolve() : this.waiters.push(check));
      check();
    });
  }

  /** Lets every held answer through. */
  release(): void {
    for (const link of this.links) link.flush();
  }

  async close(): Promise<void> {
    for (const link of this.links) {
      link.client.destroy();
      link.upstream.destroy();
    }
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(null)));
  }

  private link(client: Socket): void {
    const upstream = connect(this.targetPort, '127.0.0.1');
    const link = new Link(client, upstream);
    this.links.add(link);
    client.on('data', (chunk: Buffer) => {
      if (!link.holding && this.holds(chunk.toString('latin1'))) {
        link.holding = true;
        this.heldCount += 1;
        this.waiters.splice(0).forEach((check) => check());
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (link.holding) link.backlog.push(chunk);
      else client.write(chunk);
    });
    upstream.on('end', () => (link.holding ? link.backlog.push(null) : client.end()));
    client.on('end', () => upstream.end());
    const drop = () => {
      this.links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
  }
}
