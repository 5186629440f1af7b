import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Principal } from '../../auth/principal';
import { closeFrame, FrameTracker } from './frame-tracker';
import type { ServiceTunnelMetrics } from './tunnel-metrics';

/** Close codes the gateway sends (RFC 6455 7.4.1 and the IANA registry). */
export const CLOSE_CODES = {
  /** Drain on shutdown, a tunnel idle too long, the client gone without a close frame. */
  goingAway: 1001,
  /** A revoked or expired token. */
  policyViolation: 1008,
  /** The upstream went away without a close frame: the gateway's "502". */
  badGateway: 1014,
} as const;

/** How long the peers of a tunnel the gateway closes get for their closing handshake. */
export const CLOSE_GRACE_MS = 1_000;

/** The longest delay a Node timer takes; a token living longer is checked again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

type Inc = { inc(value?: number): void };

/**
 * One direction of a tunnel: bytes from `from` written to `to` as they come, with backpressure,
 * their frames followed by a `FrameTracker` so that a close frame of the gateway's own can go in
 * between two frames.
 */
class Relay {
  readonly tracker = new FrameTracker();
  /** The gateway's close frame, waiting for the frame under way to end. */
  private pendingClose: Buffer | null = null;
  /** Nothing more goes this way: the gateway's close frame went, or `to` was ended. */
  private stopped = false;

  constructor(
    private readonly from: Duplex,
    private readonly to: Duplex,
    private readonly bytes: Inc,
    private readonly touch: () => void,
  ) {}

  readonly onData = (chunk: Buffer): void => {
    this.touch();
    if (this.stopped) return;
    if (this.pendingClose === null) {
      this.tracker.feed(chunk);
      this.forward(chunk);
      return;
    }
    const end = this.tracker.feed(chunk, true);
    if (end > 0) this.forward(end === chunk.length ? chunk : chunk.subarray(0, end));
    if (this.tracker.atBoundary) this.endWith(this.pendingClose);
  };

  /** Ends `to` with `frame` once the frame under way has passed (at once when none is). */
  closeWith(frame: Buffer): void {
    if (this.stopped) return;
    if (this.tracker.atBoundary) this.endWith(frame);
    else this.pendingClose = frame;
  }

  /**
   * `from` is done. `to` gets what a close needs: nothing more when a close frame already went
   * this way, else `frame` if it fits between frames; then its end.
   */
  sourceEnded(frame: () => Buffer): void {
    if (this.stopped) return;
    if (!this.tracker.closeSeen && this.tracker.atBoundary) this.endWith(frame());
    else this.endWith(null);
  }

  private forward(chunk: Buffer): void {
    this.bytes.inc(chunk.length);
    if (!this.to.write(chunk)) {
      this.from.pause();
      this.to.once('drain', this.resume);
    }
  }

  private readonly resume = (): void => {
    this.from.resume();
  };

  private endWith(frame: Buffer | null): void {
    this.stopped = true;
    this.pendingClose = null;
    if (!this.to.writable) return;
    if (frame === null) {
      this.to.end();
      return;
    }
    this.bytes.inc(frame.length);
    this.to.end(frame);
  }
}

/** What the registry keeps of a tunnel to find it again. */
export interface TunnelOwner {
  /** The service's name. */
  readonly service: string;
  /** Whose tunnel it is for the per-user limit: `user:<sub>`, or `ip:<address>` when anonymous. */
  readonly key: string;
  /** The verified caller; `undefined` on a public route. */
  readonly principal: Principal | undefined;
}

/**
 * A WebSocket connection relayed between a client and one upstream target, bytes untouched both
 * ways. Either side ending or failing ends the other; the gateway closes it itself (idle, token
 * revoked or expired, drain) with a close frame to each side, put between two frames.
 */
export class Tunnel {
  private readonly toClient: Relay;
  private readonly toUpstream: Relay;
  private lastActivity = performance.now();
  private idleTimer: NodeJS.Timeout | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private graceTimer: NodeJS.Timeout | null = null;
  private clientOpen = true;
  private upstreamOpen = true;
  private closing = false;

  constructor(
    readonly owner: TunnelOwner,
    private readonly client: Duplex,
    private readonly upstream: Duplex,
    metrics: ServiceTunnelMetrics,
    private readonly idleTimeoutMs: number,
    private readonly ended: (tunnel: Tunnel) => void,
  ) {
    const touch = (): void => {
      this.lastActivity = performance.now();
    };
    this.toClient = new Relay(upstream, client, metrics.toClient, touch);
    this.toUpstream = new Relay(client, upstream, metrics.toUpstream, touch);
  }

  /** Relays both ways from now on; the heads are the bytes each side sent after its handshake. */
  start(clientHead: Buffer, upstreamHead: Buffer): void {
    const { client, upstream } = this;
    for (const socket of [client, upstream] as const) {
      const tcp = socket as Partial<Pick<Socket, 'setNoDelay' | 'setTimeout'>>;
      tcp.setNoDelay?.(true);
      // A keep-alive connection may still carry its idle timeout; the tunnel has its own.
      tcp.setTimeout?.(0);
      socket.on('error', ignore);
    }
    client.on('data', this.toUpstream.onData);
    upstream.on('data', this.toClient.onData);
    client.on('end', () =>
      this.toUpstream.sourceEnded(() =>
        closeFrame(CLOSE_CODES.goingAway, 'client went away', true),
      ),
    );
    upstream.on('end', () =>
      this.toClient.sourceEnded(() =>
        closeFrame(CLOSE_CODES.badGateway, 'upstream closed the connection', false),
      ),
    );
    client.on('close', () => this.sideClosed('client'));
    upstream.on('close', () => this.sideClosed('upstream'));
    if (upstreamHead.length > 0) this.toClient.onData(upstreamHead);
    if (clientHead.length > 0) this.toUpstream.onData(clientHead);
    this.idleTimer = setTimeout(() => this.checkIdle(), this.idleTimeoutMs);
    this.idleTimer.unref();
    const principal = this.owner.principal;
    if (principal !== undefined) this.expireAt(principal.claims.exp * 1000);
  }

  /**
   * Closes both sides with `code`: each gets a close frame as soon as the frame under way to it
   * has passed; whatever is still open after `CLOSE_GRACE_MS` is cut.
   */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.toClient.closeWith(closeFrame(code, reason, false));
    this.toUpstream.closeWith(closeFrame(code, reason, true));
    this.cutAfterGrace();
  }

  private sideClosed(side: 'client' | 'upstream'): void {
    if (side === 'client') {
      if (!this.clientOpen) return;
      this.clientOpen = false;
      this.toUpstream.sourceEnded(() =>
        closeFrame(CLOSE_CODES.goingAway, 'client went away', true),
      );
    } else {
      if (!this.upstreamOpen) return;
      this.upstreamOpen = false;
      this.toClient.sourceEnded(() =>
        closeFrame(CLOSE_CODES.badGateway, 'upstream closed the connection', false),
      );
    }
    if (this.clientOpen || this.upstreamOpen) {
      this.cutAfterGrace();
      return;
    }
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.ended(this);
  }

  private cutAfterGrace(): void {
    if (this.graceTimer !== null) return;
    this.graceTimer = setTimeout(() => {
      this.client.destroy();
      this.upstream.destroy();
    }, CLOSE_GRACE_MS);
    this.graceTimer.unref();
  }

  private checkIdle(): void {
    const idleFor = performance.now() - this.lastActivity;
    if (idleFor >= this.idleTimeoutMs) {
      this.close(CLOSE_CODES.goingAway, 'idle timeout');
      return;
    }
    this.idleTimer = setTimeout(() => this.checkIdle(), this.idleTimeoutMs - idleFor);
    this.idleTimer.unref();
  }

  private expireAt(expiresAt: number): void {
    const left = expiresAt - Date.now();
    if (left <= 0) {
      this.close(CLOSE_CODES.policyViolation, 'token expired');
      return;
    }
    this.expiryTimer = setTimeout(() => this.expireAt(expiresAt), Math.min(left, MAX_TIMER_MS));
    this.expiryTimer.unref();
  }
}

function ignore(): void {
  // 'close' follows every socket error; that is where a tunnel reacts.
}
