import { connect, createServer, Server, Socket } from 'node:net';

/** What the proxy does to one request on its way to the upstream. */
export type Fault =
  | { kind: 'pass' }
  /** Holds the request (and so its response) back for `ms` before forwarding it. */
  | { kind: 'latency'; ms: number }
  /** Forwards `bytes` of the request (all of it when `Infinity`), then resets the client's connection. */
  | { kind: 'reset'; bytes: number }
  /**
   * Forwards the whole request and resets the client's connection when the replica's answer
   * starts: the replica has done the work, the client never learns of it.
   */
  | { kind: 'lose-answer' }
  /** Swallows the request and everything after it on the connection; never answers. */
  | { kind: 'blackhole' };

/** One request as the proxy parsed it from the client's bytes. */
export interface ProxiedRequest {
  method: string;
  path: string;
  /** 0-based over the proxy's whole life, health checks included. */
  index: number;
}

export type FaultPlan = (request: ProxiedRequest) => Fault;

export const PASS: Fault = { kind: 'pass' };

const HEALTH_PATH = /^\/health\//;

/**
 * A TCP proxy in front of one replica that understands just enough HTTP/1.1 to find where each
 * request starts and ends (Content-Length or chunked bodies, keep-alive), so that it can count
 * the requests the replica is sent and inject a fault into chosen ones. The gateway's health
 * checks (`/health/...` without `X-Forwarded-For`) are counted apart and always pass.
 */
export class FaultProxy {
  /** Requests forwarded to the replica (whole or in part), health checks excluded. */
  forwarded = 0;
  healthChecks = 0;
  connections = 0;
  readonly injected = { latency: 0, reset: 0, blackhole: 0 };
  /** Every non-health request seen, in order, with the fault it got. */
  readonly log: Array<{ method: string; path: string; head: string; fault: Fault['kind'] }> = [];
  plan: FaultPlan = () => PASS;
  port = 0;
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private requests = 0;

  constructor(
    private readonly targetPort: number,
    private readonly targetHost = '127.0.0.1',
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address && typeof address === 'object') this.port = address.port;
    this.server = server;
    return this;
  }

  /** Zeroes the counters and the log; the plan stays. */
  resetCounts(): void {
    this.forwarded = 0;
    this.healthChecks = 0;
    this.connections = 0;
    this.injected.latency = this.injected.reset = this.injected.blackhole = 0;
    this.log.length = 0;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
  }

  private accept(client: Socket): void {
    this.connections += 1;
    this.track(client);
    const upstream = connect({ host: this.targetHost, port: this.targetPort });
    this.track(upstream);
    const parser = new RequestSplitter();
    /** Forwarding is serialised so that a held request holds back the ones after it. */
    let queue: Promise<void> = Promise.resolve();
    let blackholed = false;
    let resetAt = -1;
    let loseAnswer = false;
    let sentOfCurrent = 0;

    const forward = (bytes: Buffer) => {
      if (bytes.length > 0 && !upstream.destroyed) upstream.write(bytes);
    };
    upstream.on('data', (chunk: Buffer) => {
      if (loseAnswer) client.resetAndDestroy();
      else if (!client.destroyed && resetAt < 0) client.write(chunk);
    });
    upstream.on('close', () => client.destroy());
    client.on('close', () => {
      // After a reset the replica is left to finish the request it was sent, as after a lost response.
      if (resetAt >= 0 || loseAnswer) setTimeout(() => upstream.destroy(), 5_000).unref();
      else upstream.destroy();
    });

    client.on('data', (chunk: Buffer) => {
      for (const part of parser.push(chunk)) {
        queue = queue.then(async () => {
          if (blackholed || client.destroyed) return;
          if (part.start) {
            const request: ProxiedRequest = {
              method: part.start.method,
              path: part.start.path,
              index: this.requests++,
            };
            // The gateway's own probes; a client's request to such a path carries X-Forwarded-For.
            const health =
              HEALTH_PATH.test(request.path) && !/\r\nx-forwarded-for:/i.test(part.start.head);
            const fault = health ? PASS : this.plan(request);
            if (health) this.healthChecks += 1;
            else {
              this.log.push({ ...part.start, fault: fault.kind });
              if (fault.kind !== 'blackhole') this.forwarded += 1;
            }
            sentOfCurrent = 0;
            resetAt = -1;
            if (fault.kind === 'latency') {
              this.injected.latency += 1;
              await new Promise((r) => setTimeout(r, fault.ms));
            } else if (fault.kind === 'blackhole') {
              this.injected.blackhole += 1;
              blackholed = true;
              return;
            } else if (fault.kind === 'reset') {
              this.injected.reset += 1;
              resetAt = fault.bytes;
            } else if (fault.kind === 'lose-answer') {
              this.injected.reset += 1;
              loseAnswer = true;
            }
          }
          if (resetAt >= 0) {
            const room = resetAt - sentOfCurrent;
            const bytes = part.bytes.length > room ? part.bytes.subarray(0, room) : part.bytes;
            forward(bytes);
            sentOfCurrent += bytes.length;
            if (sentOfCurrent >= resetAt || part.end) client.resetAndDestroy();
            return;
          }
          forward(part.bytes);
        });
      }
    });
  }
}

/** A slice of the client's bytes: where a request starts (with its line) and whether it ends there. */
interface RequestPart {
  start?: { method: string; path: string; head: string };
  bytes: Buffer;
  end: boolean;
}

/** Splits a client's byte stream into parts on request boundaries (HTTP/1.1, no pipelining needed). */
class RequestSplitter {
  private state: 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailer' =
    'head';
  private head: Buffer = Buffer.alloc(0);
  private remaining = 0;
  private line = '';

  push(chunk: Buffer): RequestPart[] {
    const parts: RequestPart[] = [];
    let offset = 0;
    let current: RequestPart | null = null;
    let from = 0;
    const flush = (to: number, end: boolean) => {
      if (current) {
        current.bytes = Buffer.concat([current.bytes, chunk.subarray(from, to)]);
        current.end = end;
      } else if (to > from || end) {
        current = { bytes: chunk.subarray(from, to), end };
      }
      if (current) parts.push(current);
      current = null;
      from = to;
    };
    while (offset < chunk.length) {
      if (this.state === 'head') {
        const headSoFar: Buffer = Buffer.concat([this.head, chunk.subarray(offset)]);
        const endAt = headSoFar.indexOf('\r\n\r\n');
        if (endAt < 0) {
          this.head = headSoFar;
          offset = chunk.length;
          // Held back until the head is complete, so that a fault can be decided before any byte goes.
          from = chunk.length;
          break;
        }
        const consumed = endAt + 4 - this.head.length;
        const text = headSoFar.subarray(0, endAt).toString('latin1');
        this.head = Buffer.alloc(0);
        const [line = '', ...fields] = text.split('\r\n');
        const [method = '', path = ''] = line.split(' ');
        let length = 0;
        let chunked = false;
        for (const field of fields) {
          const [name = '', ...rest] = field.split(':');
          const value = rest.join(':').trim();
          if (/^content-length$/i.test(name.trim())) length = Number(value);
          if (/^transfer-encoding$/i.test(name.trim()) && /chunked/i.test(value)) chunked = true;
        }
        current = {
          start: { method, path, head: text },
          bytes: headSoFar.subarray(0, endAt + 4),
          end: false,
        };
        offset += consumed;
        from = offset;
        if (chunked) this.state = 'chunk-size';
        else if (length > 0) {
          this.state = 'length';
          this.remaining = length;
        } else {
          flush(offset, true);
        }
        continue;
      }
      if (this.state === 'length') {
        const take = Math.min(this.remaining, chunk.length - offset);
        offset += take;
        this.remaining -= take;
        if (this.remaining === 0) {
          this.state = 'head';
          flush(offset, true);
        }
        continue;
      }
      if (this.state === 'chunk-data') {
        const take = Math.min(this.remaining, chunk.length - offset);
        offset += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = 'chunk-crlf';
        continue;
      }
      // Line-oriented states: chunk size, the CRLF after chunk data, the trailer section.
      const byte = chunk[offset++];
      this.line += String.fromCharCode(byte);
      if (!this.line.endsWith('\r\n')) continue;
      const text = this.line.slice(0, -2);
      this.line = '';
      if (this.state === 'chunk-crlf') this.state = 'chunk-size';
      else if (this.state === 'chunk-size') {
        const size = parseInt(text, 16);
        if (size === 0) this.state = 'trailer';
        else {
          this.state = 'chunk-data';
          this.remaining = size;
        }
      } else if (text === '') {
        this.state = 'head';
        flush(offset, true);
      }
    }
    if (from < chunk.length || current) flush(chunk.length, false);
    return parts;
  }
}
