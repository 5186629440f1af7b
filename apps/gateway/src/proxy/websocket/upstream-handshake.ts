import { ClientRequest, IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { UpstreamHealth } from '../upstream-health';
import type { ServiceUpstreams } from '../upstream-registry';
import { hasTried, TargetPick, TriedTargets, withTried } from '../upstream-target';

/** How the handshake with an upstream ended. */
export type UpstreamOutcome =
  /** 101: the upstream's socket is the tunnel's other end. */
  | {
      readonly kind: 'upgraded';
      readonly response: IncomingMessage;
      readonly socket: Socket;
      readonly head: Buffer;
      readonly pick: TargetPick;
      readonly attempts: number;
    }
  /** Another status: relayed to the client as it is. */
  | {
      readonly kind: 'answered';
      readonly response: IncomingMessage;
      readonly pick: TargetPick;
      readonly attempts: number;
    }
  | {
      readonly kind: 'failed';
      readonly status: 502 | 503 | 504;
      readonly message: string;
      readonly pick: TargetPick | null;
      readonly attempts: number;
    };

/**
 * The gateway's opening handshake with one healthy target of a service, picked by its balancer.
 * A target that cannot be connected to is reported to health and the next one is tried, as for
 * any request (nothing has been sent); once connected, an upstream that does not answer within
 * `perTryMs` is a 504 and one that fails a 502. `abort` gives up (the client left).
 */
export class UpstreamHandshake {
  private attempts = 0;
  private tried: TriedTargets = null;
  private current: ClientRequest | null = null;
  private currentPick: TargetPick | null = null;
  private timer: NodeJS.Timeout | null = null;
  private settled = false;
  private resolve!: (outcome: UpstreamOutcome) => void;
  readonly outcome: Promise<UpstreamOutcome>;

  constructor(
    private readonly upstreams: ServiceUpstreams,
    private readonly health: UpstreamHealth,
    /** Path and query for the upstream. */
    private readonly path: string,
    /** Flat `[name, value, ...]` without `Host`, which each attempt adds for its target. */
    private readonly headers: readonly string[],
  ) {
    this.outcome = new Promise((resolve) => (this.resolve = resolve));
    this.attempt();
  }

  /** Gives up (the client left): the outcome is a failure, whatever the target does now. */
  abort(): void {
    if (this.settled) return;
    const pick = this.currentPick;
    this.current?.destroy();
    if (pick !== null) this.health.released(pick);
    this.settle({
      kind: 'failed',
      status: 502,
      message: 'the client left during the handshake',
      pick,
      attempts: this.attempts,
    });
  }

  private attempt(): void {
    const pick = this.upstreams.balancer.pick(this.tried);
    if (pick === null) {
      this.settle({
        kind: 'failed',
        status: 503,
        message: `${this.upstreams.name} has no healthy target`,
        pick: null,
        attempts: this.attempts,
      });
      return;
    }
    this.attempts += 1;
    const firstTry = !hasTried(this.tried, pick.target);
    this.tried = withTried(this.tried, pick.target);
    const origin = new URL(pick.target.origin);
    const source = new URL(pick.target.source);
    const https = origin.protocol === 'https:';
    const { connectMs, perTryMs } = this.upstreams.config.timeouts;
    const req = (https ? httpsRequest : httpRequest)({
      host: origin.hostname.replace(/^\[|\]$/g, ''),
      port: origin.port || (https ? 443 : 80),
      method: 'GET',
      path: this.path,
      headers: [...this.headers, 'host', origin.host],
      agent: false,
      // A resolved address still presents the name's certificate.
      ...(https ? { servername: source.hostname } : {}),
    });
    this.current = req;
    this.currentPick = pick;
    let connected = false;
    const failed = (timedOut: boolean): void => {
      if (this.settled || this.current !== req) return;
      this.clearTimer();
      req.destroy();
      if (firstTry) this.health.failed(this.upstreams, pick);
      else this.health.released(pick);
      if (!connected && this.attempts < this.upstreams.config.retry.attempts) {
        this.upstreams.metrics.retries.inc();
        this.attempt();
        return;
      }
      this.settle({
        kind: 'failed',
        status: timedOut ? 504 : 502,
        message: timedOut
          ? `${this.upstreams.name} did not answer in time`
          : `${this.upstreams.name} failed to answer`,
        pick,
        attempts: this.attempts,
      });
    };
    this.timer = setTimeout(() => failed(true), Math.min(connectMs, perTryMs));
    req.once('socket', (socket: Socket) => {
      const onConnect = (): void => {
        connected = true;
        this.clearTimer();
        this.timer = setTimeout(() => failed(true), perTryMs);
      };
      if (socket.connecting) socket.once(https ? 'secureConnect' : 'connect', onConnect);
      else onConnect();
    });
    req.once('error', () => failed(false));
    req.once('upgrade', (response: IncomingMessage, socket: Socket, head: Buffer) => {
      if (this.settled) {
        socket.destroy();
        return;
      }
      this.health.succeeded(pick);
      this.settle({ kind: 'upgraded', response, socket, head, pick, attempts: this.attempts });
    });
    req.once('response', (response: IncomingMessage) => {
      if (this.settled) {
        response.destroy();
        return;
      }
      // An answer, whatever its status, is a sign of life.
      this.health.succeeded(pick);
      this.settle({ kind: 'answered', response, pick, attempts: this.attempts });
    });
    req.end();
  }

  private settle(outcome: UpstreamOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.currentPick = null;
    this.clearTimer();
    this.resolve(outcome);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
