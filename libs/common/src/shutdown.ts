import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { setTimeout as sleep } from 'node:timers/promises';

/** Flips readiness to "draining" the moment shutdown starts, so health checks fail before the server closes. */
@Injectable()
export class ShutdownState implements BeforeApplicationShutdown {
  private draining = false;
  private readonly closingListeners: (() => void)[] = [];

  get isDraining(): boolean {
    return this.draining;
  }

  beginDrain(): void {
    this.draining = true;
  }

  /**
   * Calls `listener` when the drain delay is over and the listener closes: connections that never
   * finish by themselves (upgraded ones) must be ended then, or the server waits for them.
   */
  onListenerClosing(listener: () => void): void {
    this.closingListeners.push(listener);
  }

  listenerClosing(): void {
    for (const listener of this.closingListeners) listener();
  }

  beforeApplicationShutdown(): void {
    this.draining = true;
  }
}

export interface DrainOptions {
  /** How long the server keeps serving after readiness turned 503, so that balancers notice. */
  delayMs: number;
  /** Bound on the requests in flight once the listener is closed; then their connections are cut. */
  timeoutMs: number;
}

/** How a drain ended: every connection closed by itself, or the rest were cut at the bound. */
export type DrainOutcome = 'drained' | 'forced';

/** A connection whose response went out keep-alive before the drain closes this soon after it idles. */
const IDLE_SWEEP_MS = 100;

/**
 * Takes an HTTP server out of service without failing a request. Readiness turns 503 at once and
 * every response from then on carries `Connection: close`, so keep-alive clients move to another
 * replica; the server keeps serving for `delayMs` while balancers and health checks notice; then
 * the listener closes, idle keep-alive connections are closed, and requests in flight may finish
 * within `timeoutMs` before the remaining connections are cut.
 */
export async function drainHttpServer(
  server: Server,
  state: ShutdownState,
  options: DrainOptions,
): Promise<DrainOutcome> {
  state.beginDrain();
  // Ahead of every other listener (Express and the gateway's proxy alike), and only from now on:
  // serving costs nothing extra until a drain begins.
  server.prependListener('request', closeAfterResponse);
  if (options.delayMs > 0) await sleep(options.delayMs);
  state.listenerClosing();
  return new Promise((resolve) => {
    const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
    const force = setTimeout(() => {
      clearInterval(sweep);
      server.closeAllConnections();
      resolve('forced');
    }, options.timeoutMs);
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(force);
      resolve('drained');
    });
    server.closeIdleConnections();
  });
}

function closeAfterResponse(req: IncomingMessage, res: ServerResponse): void {
  // HTTP/2 has no Connection header: GOAWAY lets the session's open streams finish, then closes it.
  if (req.httpVersionMajor === 2) (req as unknown as Http2ServerRequest).stream.session?.close();
  else if (!res.headersSent) res.setHeader('connection', 'close');
}
