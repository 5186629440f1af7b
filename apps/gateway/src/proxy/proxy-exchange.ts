import type {
  IncomingHttpHeaders,
  IncomingMessage,
  OutgoingHttpHeaders,
  ServerResponse,
} from 'node:http';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { RouteMatch } from '../routing/route-table';
import type { AccessLog } from './access-log';
import { sendError } from './error-response';
import { clientResponseHeaders } from './forwarded-headers';
import { isGatewayStatus, isReplicaFailure } from './replica-failure';
import { RequestBodyStream } from './request-body';
import type { ResponseTap } from '../cache/response-tap';
import type { UpstreamHealth } from './upstream-health';
import type { ServiceUpstreams } from './upstream-registry';
import { hasTried, TargetPick, TriedTargets, withTried } from './upstream-target';

/** Why an attempt failed; decides whether another may follow and the final status (504 for `timeout`). */
type FailureKind = 'connect' | 'timeout' | 'reset' | 'status';

/** The request left before its response ended; logged and counted with nginx's 499. */
const CLIENT_CLOSED = 499;

class AttemptTimeoutError extends Error {
  override readonly name = 'AttemptTimeoutError';
}

class AttemptAbandonedError extends Error {
  override readonly name = 'AttemptAbandonedError';
}

/** The collaborators an exchange reports to, shared by every request. */
export interface ExchangeContext {
  readonly health: UpstreamHealth;
  readonly accessLog: AccessLog;
  readonly logger: Logger;
  /** Outside production, answers name the target that served them (`X-Upstream-Target`). */
  readonly revealTarget: boolean;
}

/** What the proxy handler decided before the first attempt. */
export interface ExchangeRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly upstreams: ServiceUpstreams;
  readonly route: RouteMatch;
  /** Path and query sent upstream: the canonical path without the base path, the raw query. */
  readonly upstreamPath: string;
  readonly headers: string[];
  readonly requestId: string;
  readonly started: number;
  /** May go again after its bytes could have reached an upstream (idempotent, or keyed POST/PATCH). */
  readonly replaySafe: boolean;
}

/**
 * One client request on the proxy path, from its first attempt to the end of its response:
 * attempts on the balancer's targets under the per-try timeout, retries with backoff where the
 * retry policy allows, the response streamed back, and the outcome reported to health, metrics
 * and the access log exactly once.
 */
export class ProxyExchange {
  private attempts = 0;
  /** Targets of the service this request has had an attempt on. */
  private tried: TriedTargets = null;
  /** Targets this request has already reported a failure of: one request is one failure per target. */
  private charged: TriedTargets = null;
  private current: UpstreamAttempt | null = null;
  private lastPick: TargetPick | null = null;
  private lastFailure: FailureKind | null = null;
  private backoff: NodeJS.Timeout | null = null;
  /** Bytes kept for replay, or `null`. */
  private body: Buffer | null = null;
  /**
   * A body that streams from the client: `direct` (declared length, which Node enforces) is sent
   * as the client's own stream; `counted` (chunked) goes through a stream per attempt that holds
   * it to `streamLimit`.
   */
  private streamed: 'no' | 'direct' | 'counted' = 'no';
  private streamLimit = -1;
  /** An attempt consumed or destroyed the client's body stream: no other attempt can follow. */
  private bodySpent = false;
  private responseStatus = 0;
  private finished = false;
  /** Headers added to whatever the client gets (rate-limit headers), or `null`. */
  private extraHeaders: OutgoingHttpHeaders | null = null;
  private tap: ResponseTap | null = null;

  constructor(
    private readonly context: ExchangeContext,
    private readonly request: ExchangeRequest,
  ) {
    request.res.once('close', this.onClientClose);
  }

  /** Sends a request without a body, or with bytes kept for replay. */
  send(body: Buffer | null): void {
    this.body = body;
    this.next();
  }

  /** Sends a request whose body streams from the client; `limit` < 0 when its length is declared. */
  stream(limit: number): void {
    this.streamed = limit < 0 ? 'direct' : 'counted';
    this.streamLimit = limit;
    this.next();
  }

  /** The handler answered the request itself (a CORS preflight). */
  answered(status: number): void {
    this.finish(status);
  }

  /** Headers for the client's answer, whoever gives it. */
  addHeaders(headers: OutgoingHttpHeaders): void {
    this.extraHeaders = headers;
  }

  /** Lets `tap` see the upstream's answer as it goes to the client. */
  observe(tap: ResponseTap): void {
    this.tap = tap;
  }

  /** Answers with a whole response the gateway holds (a cache hit). */
  respond(status: number, headers: OutgoingHttpHeaders, body: Buffer): void {
    if (this.finished) return;
    const { res, req, upstreams, requestId } = this.request;
    headers['x-request-id'] = requestId;
    upstreams.cors?.decorate(headers, req.headers.origin);
    if (this.extraHeaders !== null) Object.assign(headers, this.extraHeaders);
    res.writeHead(status, headers);
    res.end(body);
    this.finish(status);
  }

  /** Ends the exchange with a gateway error before any upstream answered. */
  fail(status: number, message: string, extraHeaders?: Record<string, string>): void {
    if (this.finished) return;
    const { res, requestId, upstreams, req } = this.request;
    const headers = { ...this.extraHeaders, ...extraHeaders };
    upstreams.cors?.decorate(headers, req.headers.origin);
    sendError(res, status, message, requestId, headers);
    this.finish(status);
  }

  private next(): void {
    if (this.finished) return;
    const { upstreams } = this.request;
    const pick = upstreams.balancer.pick(this.tried);
    if (pick === null) {
      if (this.attempts === 0) {
        this.fail(503, `${upstreams.name} has no healthy target`);
      } else {
        this.giveUp();
      }
      return;
    }
    this.attempts += 1;
    this.tried = withTried(this.tried, pick.target);
    this.lastPick = pick;
    const counted = this.streamed === 'counted' ? new RequestBodyStream(this.streamLimit) : null;
    const body = this.streamed === 'direct' ? this.request.req : (counted ?? this.body);
    const attempt = new UpstreamAttempt(this, pick, counted, this.streamed === 'direct');
    pick.target.inFlight += 1;
    this.current = attempt;
    attempt.timer = setTimeout(onAttemptTimeout, upstreams.config.timeouts.perTryMs, this, attempt);
    const { req, upstreamPath, headers } = this.request;
    pick.target.pool.dispatch(
      {
        path: upstreamPath,
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body,
      },
      attempt,
    );
  }

  /** The attempt is on a connection and its request is about to be written. */
  attemptStarted(attempt: UpstreamAttempt): void {
    if (attempt.countedBody) this.request.req.pipe(attempt.countedBody);
  }

  /** undici destroys the body of an aborted attempt; with the client's stream as body, that ends the exchange. */
  clientBodySpent(): void {
    this.bodySpent = true;
  }

  attemptResponded(
    attempt: UpstreamAttempt,
    status: number,
    headers: IncomingHttpHeaders,
    statusMessage: string | undefined,
  ): void {
    if (status < 200) {
      // Interim: the final answer is still to come, so the per-try timer keeps running.
      this.interim(status, headers);
      return;
    }
    clearTimeout(attempt.timer);
    const { upstreams, replaySafe, res, requestId, req } = this.request;
    attempt.replicaFailed = isReplicaFailure(status, headers);
    if (isGatewayStatus(status) && replaySafe && this.attempts < upstreams.retry.maxAttempts) {
      // Read and drop it so the connection stays reusable, then try elsewhere.
      attempt.discard = true;
      return;
    }
    this.responseStatus = status;
    const out = clientResponseHeaders(headers, requestId);
    this.tap?.responseStarted(status, out);
    upstreams.cors?.decorate(out, req.headers.origin);
    if (this.extraHeaders !== null) Object.assign(out, this.extraHeaders);
    if (this.context.revealTarget) out['x-upstream-target'] = attempt.pick.target.origin;
    if (statusMessage) res.writeHead(status, statusMessage, out);
    else res.writeHead(status, out);
  }

  /**
   * An interim 1xx from the upstream. A 103 Early Hints is relayed with its `Link` to an HTTP/1.1
   * client (RFC 8297; a 1xx must not go to an HTTP/1.0 one, RFC 9110 15.2) while the client has
   * no answer yet; every other 1xx is the upstream's own business and is dropped.
   */
  private interim(status: number, headers: IncomingHttpHeaders): void {
    const { req, res } = this.request;
    const link = headers.link;
    if (
      status !== 103 ||
      link === undefined ||
      res.headersSent ||
      req.httpVersionMajor !== 1 ||
      req.httpVersionMinor < 1
    ) {
      return;
    }
    res.writeEarlyHints({ link });
  }

  attemptData(
    attempt: UpstreamAttempt,
    controller: Dispatcher.DispatchController,
    chunk: Buffer,
  ): void {
    this.tap?.responseData(chunk);
    if (!this.request.res.write(chunk)) {
      controller.pause();
      this.request.res.once('drain', attempt.resumer());
    }
  }

  attemptEnded(attempt: UpstreamAttempt): void {
    this.current = null;
    if (attempt.discard) {
      // Another replica may serve it; only a replica that did not answer for itself is charged.
      if (!attempt.replicaFailed) this.context.health.succeeded(attempt.pick);
      this.attemptFailed(attempt, 'status', true, attempt.replicaFailed);
      return;
    }
    // A write's cache invalidation holds the end back, so no instance serves stale after it.
    const settled = this.tap?.responseEnded() ?? null;
    if (settled === null) this.request.res.end();
    else void settled.then(() => this.request.res.end());
    if (attempt.replicaFailed) this.charge(attempt.pick);
    else this.context.health.succeeded(attempt.pick);
    this.finish(this.responseStatus);
  }

  attemptErrored(attempt: UpstreamAttempt, err: Error): void {
    clearTimeout(attempt.timer);
    this.current = null;
    if (attempt.countedBody?.exceeded) {
      this.context.health.released(attempt.pick);
      const limit = this.request.upstreams.config.bodyLimitBytes;
      this.fail(413, `request body exceeds ${limit} bytes`, { connection: 'close' });
      return;
    }
    if (this.request.res.headersSent) {
      // The response was already on its way: the client can only learn of it by a cut connection.
      this.charge(attempt.pick);
      this.tap?.responseAborted();
      this.request.res.destroy(err);
      this.finish(this.responseStatus);
      return;
    }
    const timedOut =
      attempt.timedOut ||
      (err as { code?: string }).code === 'UND_ERR_CONNECT_TIMEOUT' ||
      (err as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT';
    const kind: FailureKind = timedOut ? 'timeout' : attempt.started ? 'reset' : 'connect';
    this.attemptFailed(attempt, kind, attempt.started);
  }

  private attemptFailed(
    attempt: UpstreamAttempt,
    kind: FailureKind,
    bytesSent: boolean,
    replicaFailed = true,
  ): void {
    if (replicaFailed) this.charge(attempt.pick);
    this.lastFailure = kind;
    if (this.finished) return;
    const { retry, metrics } = this.request.upstreams;
    if (this.bodySpent || !retry.shouldRetry(this.attempts, bytesSent, this.request.replaySafe)) {
      this.giveUp();
      return;
    }
    metrics.retries.inc();
    this.backoff = setTimeout(retryNow, retry.backoffMs(this.attempts), this);
  }

  /**
   * Reports a failure of `pick` to passive health, once per target per request: retries of one
   * request must not add up to an ejection. A trial on a target this request already charged
   * decides nothing; its slot is freed for another request's verdict.
   */
  private charge(pick: TargetPick): void {
    if (hasTried(this.charged, pick.target)) {
      if (pick.trial) this.context.health.released(pick);
      return;
    }
    this.charged = withTried(this.charged, pick.target);
    this.context.health.failed(this.request.upstreams, pick);
  }

  /** The backoff is over: the next attempt. */
  afterBackoff(): void {
    this.backoff = null;
    try {
      this.next();
    } catch (err) {
      this.crash(err);
    }
  }

  /** A bug on the proxy path: answer 500 if still possible, log it, keep the process serving. */
  crash(err: unknown): void {
    this.context.logger.error({ err, requestId: this.request.requestId }, 'proxy failure');
    const attempt = this.current;
    this.current = null;
    if (attempt) {
      attempt.abandoned = true;
      attempt.settle();
      clearTimeout(attempt.timer);
      this.context.health.released(attempt.pick);
      attempt.controller?.abort(new AttemptAbandonedError('proxy failure'));
    }
    this.fail(500, 'internal error');
  }

  /** The per-try timer of `attempt` fired. */
  attemptTimedOut(attempt: UpstreamAttempt): void {
    if (attempt !== this.current) return;
    attempt.timedOut = true;
    if (attempt.controller) {
      attempt.controller.abort(new AttemptTimeoutError('per-try timeout'));
      return;
    }
    // Still connecting with the client's own stream as body: aborting would destroy that stream,
    // so this attempt runs on until its connect fails (retry) or it starts (aborted, then 504).
    if (attempt.sendsClientStream) return;
    // Still connecting: give up on it now; if it ever reaches a socket it is aborted unsent.
    attempt.abandoned = true;
    attempt.settle();
    this.current = null;
    this.attemptFailed(attempt, 'timeout', false);
  }

  private giveUp(): void {
    const name = this.request.upstreams.name;
    // A request body left unread on the connection would be taken for the next request.
    const close = this.bodySpent ? { connection: 'close' } : undefined;
    if (this.lastFailure === 'timeout') {
      this.fail(504, `${name} did not answer in time`, close);
    } else {
      this.fail(502, `${name} failed to answer`, close);
    }
  }

  private readonly onClientClose = (): void => {
    try {
      this.clientClosed();
    } catch (err) {
      this.context.logger.error({ err, requestId: this.request.requestId }, 'proxy failure');
    }
  };

  private clientClosed(): void {
    if (this.finished) return;
    if (this.backoff) clearTimeout(this.backoff);
    const attempt = this.current;
    if (attempt) {
      clearTimeout(attempt.timer);
      attempt.abandoned = true;
      attempt.settle();
      this.current = null;
      this.context.health.released(attempt.pick);
      attempt.controller?.abort(new AttemptAbandonedError('client closed the connection'));
    }
    this.tap?.responseAborted();
    this.finish(CLIENT_CLOSED);
  }

  private finish(status: number): void {
    if (this.finished) return;
    this.finished = true;
    const { upstreams, started, req, route, requestId } = this.request;
    const latencyMs = performance.now() - started;
    upstreams.metrics.record(status, latencyMs / 1000);
    if (this.context.accessLog.enabled) {
      this.context.accessLog.write({
        requestId,
        method: req.method,
        path: upstreams.config.basePath + (route.path === '/' ? '' : route.path),
        status,
        latencyMs: Math.round(latencyMs * 1000) / 1000,
        upstream: upstreams.name,
        target: this.lastPick?.target.origin ?? null,
        attempts: this.attempts,
      });
    }
  }
}

// Timer callbacks take their objects as arguments, so that a request allocates no closures for them.
function onAttemptTimeout(exchange: ProxyExchange, attempt: UpstreamAttempt): void {
  try {
    exchange.attemptTimedOut(attempt);
  } catch (err) {
    exchange.crash(err);
  }
}

function retryNow(exchange: ProxyExchange): void {
  exchange.afterBackoff();
}

/** One try on one target; undici calls it back. Once abandoned, every later callback is ignored. */
class UpstreamAttempt implements Dispatcher.DispatchHandler {
  controller: Dispatcher.DispatchController | null = null;
  timer: NodeJS.Timeout | undefined;
  /** The request is on a connection: from here on its bytes may reach the upstream. */
  started = false;
  timedOut = false;
  abandoned = false;
  /** A retryable 502/503/504 whose body is read and dropped. */
  discard = false;
  /** Its answer counts against the target in passive health (see `isReplicaFailure`). */
  replicaFailed = false;
  /** No longer counted in its target's `inFlight`. */
  private settled = false;

  constructor(
    private readonly exchange: ProxyExchange,
    readonly pick: TargetPick,
    /** This attempt's own stream for a chunked body, piped from the client once the attempt starts. */
    readonly countedBody: RequestBodyStream | null,
    /** The body is the client's request stream itself. */
    readonly sendsClientStream: boolean,
  ) {}

  private onDrain?: () => void;

  /** Takes the attempt out of its target's in-flight count, once. */
  settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.pick.target.inFlight -= 1;
  }

  /** Resumes the upstream response once the client has drained (one function per attempt, made on first need). */
  resumer(): () => void {
    return (this.onDrain ??= () => this.controller?.resume());
  }

  // Each callback catches its own errors: one thrown into undici would surface as a pool 'error'.
  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.abandoned) {
      controller.abort(new AttemptAbandonedError('attempt abandoned before it was sent'));
      return;
    }
    this.controller = controller;
    if (this.timedOut) {
      // Only an attempt sending the client's stream outlives its timeout this far; see onAttemptTimeout.
      this.exchange.clientBodySpent();
      controller.abort(new AttemptTimeoutError('per-try timeout before the request was sent'));
      return;
    }
    this.started = true;
    try {
      this.exchange.attemptStarted(this);
    } catch (err) {
      this.exchange.crash(err);
    }
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (this.abandoned) return;
    try {
      this.exchange.attemptResponded(this, statusCode, headers, statusMessage);
    } catch (err) {
      this.exchange.crash(err);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.abandoned || this.discard) return;
    try {
      this.exchange.attemptData(this, controller, chunk);
    } catch (err) {
      this.exchange.crash(err);
    }
  }

  onResponseEnd(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.settle();
    try {
      this.exchange.attemptEnded(this);
    } catch (err) {
      this.exchange.crash(err);
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.settle();
    try {
      this.exchange.attemptErrored(this, error);
    } catch (err) {
      this.exchange.crash(err);
    }
  }
}
