import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';
import {
  createSecureServer,
  Http2SecureServer,
  Http2ServerRequest,
  Http2ServerResponse,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DrainOptions, DrainOutcome } from '../shutdown';
import { ExpressApp, expressWithHttp2 } from './express-http2';
import type { TlsSettings } from './tls-settings';

/** nginx's `http2_max_concurrent_streams`: enough for a page's assets, a bound on one client's share. */
const MAX_CONCURRENT_STREAMS = 128;

/** The app behind the listener: its HTTP/1 server and its Express application. */
export interface SecureListenerApp {
  getHttpServer(): Server;
  getHttpAdapter(): { getInstance(): unknown };
}

export interface SecureListenerOptions {
  /** Bound on a TLS handshake and on an HTTP/1.1 header block, as on the plain listener. */
  headersTimeoutMs: number;
  /** Headers of every answer over TLS (Strict-Transport-Security), whoever gives the answer. */
  responseHeaders?: OutgoingHttpHeaders;
}

/**
 * A second listener for the app, with TLS (1.2 and up, Node's modern cipher list) and ALPN `h2`
 * and `http/1.1`. Every request on it goes to the request listeners of the app's plain HTTP
 * server, so both listeners serve exactly the same routes, pipeline and Express endpoints.
 *
 * An HTTP/2 request is first given the HTTP/1.1 view those listeners read (RFC 9113 8.3.1): a
 * `Host` from `:authority` when it has none, and a body that HEADERS did not end and whose length
 * is not declared is marked `Transfer-Encoding: chunked`, as the same body over HTTP/1.1 would be.
 * Nothing of this runs for a request on the plain listener.
 */
/** Node 24's choice of which requests carrying `Upgrade` go to `upgrade` listeners. */
interface UpgradeDecider {
  shouldUpgradeCallback(req: IncomingMessage): boolean;
}

export class SecureListener {
  readonly server: Http2SecureServer;
  private readonly responseHeaders: readonly [string, string | number | readonly string[]][];

  /** Call before the app initialises: Express gets its HTTP/2 bridge before anything captures it. */
  constructor(
    app: SecureListenerApp,
    private readonly settings: TlsSettings,
    options: SecureListenerOptions,
  ) {
    this.responseHeaders = Object.entries(options.responseHeaders ?? {}).filter(
      (entry): entry is [string, string | number | string[]] => entry[1] !== undefined,
    );
    const plain = app.getHttpServer();
    bridgeExpress(plain, app.getHttpAdapter().getInstance() as ExpressApp);
    this.server = createSecureServer(
      {
        cert: settings.cert,
        key: settings.key,
        allowHTTP1: true,
        minVersion: 'TLSv1.2',
        honorCipherOrder: true,
        handshakeTimeout: options.headersTimeoutMs,
        settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS },
      },
      (req, res) => this.serve(plain, req, res),
    );
    // An HTTP/1.1 upgrade over TLS (a WebSocket) goes where a plain one does, decided the same way.
    const upgrades = this.server as unknown as UpgradeDecider;
    upgrades.shouldUpgradeCallback = (req) =>
      (plain as unknown as UpgradeDecider).shouldUpgradeCallback(req);
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      plain.emit('upgrade', req, socket, head),
    );
    const limits = this.server as unknown as {
      headersTimeout: number;
      requestTimeout: number;
      connectionsCheckingInterval: number;
    };
    limits.headersTimeout = options.headersTimeoutMs;
    limits.requestTimeout = Math.max(limits.requestTimeout, options.headersTimeoutMs);
    limits.connectionsCheckingInterval = Math.min(1_000, options.headersTimeoutMs);
  }

  /** The port it listens on (the configured one, or the one the OS chose for port 0). */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  listen(host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.settings.port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /**
   * Keeps serving for `delayMs` (during which the plain server's drain asks every HTTP/1.1 client
   * to close and sends every HTTP/2 client GOAWAY), then stops listening: open HTTP/2 sessions get
   * GOAWAY and finish their streams, idle HTTP/1.1 connections close; bounded by `timeoutMs`.
   */
  async drain(options: DrainOptions): Promise<DrainOutcome> {
    if (options.delayMs > 0) await sleep(options.delayMs);
    return new Promise((resolve) => {
      const force = setTimeout(() => resolve('forced'), options.timeoutMs);
      force.unref();
      this.server.close(() => {
        clearTimeout(force);
        resolve('drained');
      });
    });
  }

  /** Stops listening; resolves once every client has closed its connection. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
    });
  }

  private serve(
    plain: Server,
    req: IncomingMessage | Http2ServerRequest,
    res: ServerResponse | Http2ServerResponse,
  ): void {
    if (req instanceof Http2ServerRequest) asHttp11(req);
    for (const [name, value] of this.responseHeaders) res.setHeader(name, value);
    plain.emit('request', req, res);
  }
}

function asHttp11(req: Http2ServerRequest): void {
  const headers = req.headers;
  if (headers.host === undefined && req.authority) headers.host = req.authority;
  if (headers['content-length'] === undefined && !req.stream.endAfterHeaders) {
    headers['transfer-encoding'] = 'chunked';
  }
}

/** Puts `expressWithHttp2` in place of the Express application among the server's listeners. */
function bridgeExpress(server: Server, express: ExpressApp): void {
  const listeners = server.listeners('request') as ((...args: unknown[]) => void)[];
  if (!listeners.includes(express as (...args: unknown[]) => void)) return;
  server.removeAllListeners('request');
  for (const listener of listeners) {
    server.on('request', listener === express ? expressWithHttp2(express) : listener);
  }
}
