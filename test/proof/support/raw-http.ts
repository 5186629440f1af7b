import { connect, Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** How a raw connection reaches the gateway: plain TCP, or TLS (HTTP/1.1 by ALPN) on its TLS port. */
export interface RawTransport {
  readonly name: string;
  /** A new connection to `port`, and the event after which bytes may be written. */
  open(port: number): { socket: Socket; ready: 'connect' | 'secureConnect' };
}

export const PLAIN_TCP: RawTransport = {
  name: 'plain TCP',
  open: (port) => ({ socket: connect({ host: '127.0.0.1', port }), ready: 'connect' }),
};

/** TLS that trusts `ca` and offers only `http/1.1`, so the bytes are read by the HTTP/1.1 parser. */
export function tlsTransport(ca: Buffer): RawTransport {
  return {
    name: 'TLS',
    open: (port) => ({
      socket: tlsConnect({
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca,
        ALPNProtocols: ['http/1.1'],
      }),
      ready: 'secureConnect',
    }),
  };
}

/** What came back on one raw connection. */
export interface RawExchange {
  /** Status of the first response, or 0 when none arrived. */
  status: number;
  /** Header block of the first response, names lower-cased (last value wins). */
  headers: Record<string, string>;
  /** Everything the server sent, as latin1 text. */
  text: string;
  /** The server closed (or reset) the connection before `timeoutMs`. */
  closed: boolean;
  /** Milliseconds from the first byte written to the close (or to the timeout). */
  ms: number;
}

/**
 * Writes `bytes` as is on a fresh connection to `port` (TCP, or TLS by `transport`) and reads
 * until the server closes it or `timeoutMs` passes. Nothing is normalised: this is how malformed
 * requests reach the gateway.
 */
export function sendRaw(
  port: number,
  bytes: string | Buffer | Array<string | Buffer>,
  timeoutMs = 3_000,
  transport: RawTransport = PLAIN_TCP,
): Promise<RawExchange> {
  return new Promise((resolve) => {
    const { socket, ready } = transport.open(port);
    const chunks: Buffer[] = [];
    let started = 0;
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ ...parseHead(text), text, closed, ms: performance.now() - started });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.on(ready, () => {
      started = performance.now();
      for (const part of Array.isArray(bytes) ? bytes : [bytes]) socket.write(part);
    });
  });
}

function parseHead(text: string): { status: number; headers: Record<string, string> } {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: match ? Number(match[1]) : 0, headers };
}

/**
 * A slowloris client: opens a connection and sends a request's header block one short header
 * at a time, never finishing it. Resolves with how long the server let it live.
 */
export function slowHeaders(
  port: number,
  intervalMs: number,
  giveUpMs: number,
  transport: RawTransport = PLAIN_TCP,
): { closed: Promise<{ closed: boolean; ms: number; bytesSent: number }>; socket: Socket } {
  const { socket, ready } = transport.open(port);
  const closed = new Promise<{ closed: boolean; ms: number; bytesSent: number }>((resolve) => {
    let started = 0;
    let bytesSent = 0;
    let drip: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (wasClosed: boolean) => {
      if (done) return;
      done = true;
      clearInterval(drip);
      clearTimeout(limit);
      socket.destroy();
      resolve({ closed: wasClosed, ms: performance.now() - started, bytesSent });
    };
    const limit = setTimeout(() => finish(false), giveUpMs);
    const write = (text: string) => {
      if (socket.destroyed) return;
      bytesSent += text.length;
      socket.write(text);
    };
    socket.on(ready, () => {
      started = performance.now();
      write('GET /api/products HTTP/1.1\r\nHost: gateway\r\n');
      let n = 0;
      drip = setInterval(() => write(`X-Slow-${n++}: ${'a'.repeat(8)}\r\n`), intervalMs);
    });
    socket.on('data', () => undefined);
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
  });
  return { closed, socket };
}
