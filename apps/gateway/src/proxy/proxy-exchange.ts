import type {
  IncomingHttpHeaders,
  IncomingMessage,
  OutgoingHttpHeaders,
  ServerResponse,
} from 'node:http';
import type { Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { ResponseTap } from '../cache/response-tap';
import type { AccessLog } from './access-log';
import { sendError } from './error-response';
import { endAttemptSpan, type ExchangeTrace } from './exchange-trace';
import { clientResponseHeaders } from './forwarded-headers';
import { mergeHeaders } from './header-merge';
import { isReplicaFailure } from './replica-failure';
import { RequestBodyStream } from './request-body';
import type { UpstreamHealth } from './upstream-health';
import type { ServiceUpstreams } from './upstream-registry';
import { hasTried, TargetPick, TriedTargets, withTried } from './upstream-target';

/**
 * Where an exchange is. It starts `admitting` and ends `done`; the transitions:
 *
 * - admitting -> connecting: `send` or `stream` hands the first attempt to a target's pool.
 * - connecting -> sending: the attempt is on a connection (undici's `onRequestStart`).
 * - sending -> streaming-response: a final status the retry policy lets through.
 * - sending -> discarding: a 502/503/504 the retry policy retries; discarding -> backing-off at its end.
 * - connecting / sending -> backing-off: connect error, reset or per-try timeout, and the retry
 *   policy allows another attempt; backing-off -> connecting when the backoff is over.
 * - any -> done: an answer of the gateway's own (`fail`, `respond`, `answered`), the end of the
 *   streamed response, a failure with no attempt left, or a client that left (499).
 */
export type ExchangeState =
  /** The pipeline's steps run; nothing has gone upstream. */
  | 'admitting'
  /** An attempt is handed to a target's pool and waits for a connection: nothing sent yet. */
  | 'connecting'
  /** The attempt is on a connection: its bytes may reach the upstream; the answer is awaited. */
  | 'sending'
  /** A retryable 502/503/504 is read and dropped, so that its connection stays reusable. */
  | 'discarding'
  /** The last attempt failed and another follows after the retry policy's backoff. */
  | 'backing-off'
  /** The upstream's status and headers went to the client; its body follows. */
  | 'streaming-response'
  /** Answered (or abandoned by the client), counted and logged exactly once. */
  | 'done';

/** Why an attempt failed; decides the final status (504 for `timeout`, else 502). */
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

/** What the pipeline decided before the first attempt. */
export interface ExchangeRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly upstreams: ServiceUpstreams;
  /** The canonical path the client asked for (base path included, no query): the access log's. */
  readonly path: string;
  /** Path and query sent upstream: the canonical path without the base path, the raw query. */
  readonly upstreamPath: string;
  /** Flat `[name, value, ...]`; the auth step appends the identity headers before the first attempt. */
  readonly headers: string[];
  readonly requestId: string;
  /** The request's trace: the `traceparent` of each attempt, and its spans when exporting. */
  readonly trace: ExchangeTrace;
  readonly started: number;
  /** May go again after its bytes could have reached an upstream (idempotent, or keyed POST/PATCH). */
  readonly replaySafe: boolean;
}

/**
 * What every attempt sends: nothing, bytes kept for replay, the client's own stream (declared
 * length, which Node enforces), or the client's stream through a per-attempt `RequestBodyStream`
 * that holds a chunked body to `limit`.
 */
type OutgoingBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'bytes'; readonly bytes: Buffer }
  | { readonly kind: 'client-stream' }
  | { readonly kind: 'counted-stream'; readonly limit: number };

const NO_BODY: OutgoingBody = Object.freeze({ kind: 'none' });
const CLIENT_STREAM: OutgoingBody = Object.freeze({ kind: 'client-stream' });

/**
 * One client request on the proxy path, from its first attempt to the end of its response:
 * attempts on the balancer's targets under the per-try timeout, retries with backoff where the
 * retry policy allows, the response streamed back, and the outcome reported to health, metrics
 * and the access log exactly once. See `ExchangeState` for the states it goes through.
 */
export class ProxyExchange {
  private stateNow: ExchangeState = 'admitting';
  private attempts = 0;
  /** Targets of the service this request has had an attempt on. */
  private tried: TriedTargets = null;
  /** Targets this request has already reported a failure of: one request is one failure per target. */
  private charged: TriedTargets = null;
  private current: UpstreamAttempt | null = null;
  private lastPick: TargetPick | null = null;
  private lastFailure: FailureKind | null = null;
  private backoff: NodeJS.Timeout | null = null;
  private body: OutgoingBody = NO_BODY;
  /** An attempt consumed or destroyed the client's body stream: no other attempt can follow. */
  private bodySpent = false;
  private responseStatus = 0;
  /** Headers added to whatever the client gets (rate-limit headers, say), or `null`. */
  private extraHeaders: OutgoingHttpHeaders | null = null;
  private tap: ResponseTap | null = null;

  constructor(
    private readonly context: ExchangeContext,
    private readonly request: ExchangeRequest,
  ) {
    // 'close' comes once per response: `on` spares the wrapper `once` would allocate.
    request.res.on('close', this.onClientClose);
  }

  get state(): ExchangeState {
    return this.stateNow;
  }

  /** Sends a request without a body, or with bytes kept for replay. */
  send(body: Buffer | null): void {
    this.body = body === null ? NO_BODY : { kind: 'bytes', bytes: body };
    this.next();
  }

  /** Sends a request whose body streams from the client; `limit` < 0 when its length is declared. */
  stream(limit: number): void {
    this.body = limit < 0 ? CLIENT_STREAM : { kind: 'counted-stream', limit };
    this.next();
  }

  /** The pipeline answered the request itself (a CORS preflight). */
  answered(status: number): void {
    this.finish(status);
  }

  /**
   * Headers for the client's answer, whoever gives it; merged with those added before (a list
   * header such as `Vary` keeps every value, any other is replaced).
   */
  addHeaders(headers: OutgoingHttpHeaders): void {
    if (this.extraHeaders === null) this.extraHeaders = { ...headers };
    else mergeHeaders(this.extraHeaders, headers);
  }

  /** Lets `tap` see the upstream's answer as it goes to the client. */
  observe(tap: ResponseTap): void {
    this.tap = tap;
  }

  /** Answers with a whole response the gateway holds (a cache hit). */
  respond(status: number, headers: OutgoingHttpHeaders, body: Buffer): void {
    if (this.stateNow === 'done') return;
    const { res, req, upstreams, requestId } = this.request;
    headers['x-request-id'] = requestId;
    upstreams.cors?.decorate(headers, req.headers.origin);
    if (this.extraHeaders !== null) mergeHeaders(headers, this.extraHeaders);
    res.writeHead(status, headers);
    res.end(body);
    this.finish(status);
  }

  /** Ends the exchange with a gateway error before any upstream answered. */
  fail(status: number, message: string, extraHeaders?: Record<string, string>): void {
    if (this.stateNow === 'done') return;
    const { res, requestId, upstreams, req } = this.request;
    const headers: OutgoingHttpHeaders = { ...this.extraHeaders, ...extraHeaders };
    upstreams.cors?.decorate(headers, req.headers.origin);
    sendError(res, status, message, requestId, headers);
    this.finish(status);
  }

  /** A bug on the proxy path: answer 500 if still possible, log it, keep the process serving. */
  crash(err: unknown): void {
    this.context.logger.error({ err, requestId: this.request.requestId }, 'proxy failure');
    this.abandonAttempt('proxy failure');
    this.fail(500, 'internal error');
  }

  private next(): void {
    if (this.stateNow === 'done') return;
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
    const outgoing = this.body;
    const counted =
      outgoing.kind === 'counted-stream' ? new RequestBodyStream(outgoing.limit) : null;
    const sendsClientStream = outgoing.kind === 'client-stream';
    const { req, upstreamPath, headers, trace } = this.request;
    const span = trace.attempt(
      headers,
      req.method ?? 'GET',
      upstreams.name,
      pick.target.origin,
      this.attempts,
    );
    const attempt = new UpstreamAttempt(this, pick, counted, sendsClientStream, span);
    pick.target.inFlight += 1;
    this.current = attempt;
    this.stateNow = 'connecting';
    attempt.arm(upstreams.config.timeouts.perTryMs);
    pick.target.pool.dispatch(
      {
        path: upstreamPath,
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body: sendsClientStream
          ? req
          : (counted ?? (outgoing.kind === 'bytes' ? outgoing.bytes : null)),
      },
      attempt,
    );
  }

  /** The attempt is on a connection and its request is about to be written. */
  attemptStarted(attempt: UpstreamAttempt): void {
    this.stateNow = 'sending';
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
    attempt.disarm();
    const { upstreams, replaySafe, res, requestId, req } = this.request;
    if (upstreams.retry.retriesStatus(status, this.attempts, replaySafe)) {
      // Read and drop it so the connection stays reusable, then try elsewhere.
      attempt.discardAnswer();
      this.stateNow = 'discarding';
      return;
    }
    this.stateNow = 'streaming-response';
    this.responseStatus = status;
    const out = clientResponseHeaders(headers, requestId);
    this.tap?.responseStarted(status, out);
    upstreams.cors?.decorate(out, req.headers.origin);
    if (this.extraHeaders !== null) mergeHeaders(out, this.extraHeaders);
    if (this.context.revealTarget) out['x-upstream-target'] = attempt.pick.target.origin;
    // HTTP/2 has no reason phrase (RFC 9113 8.3.2).
    if (statusMessage && req.httpVersionMajor === 1) res.writeHead(status, statusMessage, out);
    else res.writeHead(status, out);
  }

  /**
   * An interim 1xx from the upstream. A 103 Early Hints is relayed with its `Link` to an HTTP/1.1
   * or HTTP/2 client (RFC 8297; a 1xx must not go to an HTTP/1.0 one, RFC 9110 15.2) while the
   * client has no answer yet; every other 1xx is the upstream's own business and is dropped.
   */
  private interim(status: number, headers: IncomingHttpHeaders): void {
    const { req, res } = this.request;
    const link = headers.link;
    if (
      status !== 103 ||
      link === undefined ||
      res.headersSent ||
      (req.httpVersionMajor === 1 && req.httpVersionMinor < 1)
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
    if (attempt.discarded) {
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
    attempt.disarm();
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

  /** The per-try timer of `attempt` fired. */
  attemptTimedOut(attempt: UpstreamAttempt): void {
    if (attempt !== this.current) return;
    if (attempt.abortOnTimeout()) return;
    // Still connecting with the client's own stream as body: aborting would destroy that stream,
    // so this attempt runs on until its connect fails (retry) or it starts (aborted, then 504).
    if (attempt.sendsClientStream) return;
    // Still connecting: give up on it now; if it ever reaches a socket it is aborted unsent.
    this.abandonAttempt('per-try timeout while connecting', false);
    this.attemptFailed(attempt, 'timeout', false);
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

  private attemptFailed(
    attempt: UpstreamAttempt,
    kind: FailureKind,
    bytesSent: boolean,
    replicaFailed = true,
  ): void {
    if (replicaFailed) this.charge(attempt.pick);
    this.lastFailure = kind;
    if (this.stateNow === 'done') return;
    const { retry, metrics } = this.request.upstreams;
    if (!retry.retriesFailure(this.attempts, bytesSent, this.request.replaySafe, this.bodySpent)) {
      this.giveUp();
      return;
    }
    metrics.retries.inc();
    this.stateNow = 'backing-off';
    this.backoff = setTimeout(retryNow, retry.backoffMs(this.attempts), this);
  }

  /**
   * Stops the current attempt, whatever it is doing: out of its target's in-flight count, its
   * timer off, its request aborted if it is on a connection, every later callback of it ignored.
   * Its target is freed of the attempt's verdict (`release`) unless the caller charges it.
   */
  private abandonAttempt(reason: string, release = true): void {
    const attempt = this.current;
    if (attempt === null) return;
    this.current = null;
    attempt.abandon(new AttemptAbandonedError(reason));
    if (release) this.context.health.released(attempt.pick);
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
    if (this.stateNow === 'done') return;
    if (this.backoff) clearTimeout(this.backoff);
    this.abandonAttempt('client closed the connection');
    this.tap?.responseAborted();
    this.finish(CLIENT_CLOSED);
  }

  private finish(status: number): void {
    if (this.stateNow === 'done') return;
    this.stateNow = 'done';
    const { upstreams, started, req, path, requestId, trace } = this.request;
    const latencyMs = performance.now() - started;
    upstreams.metrics.record(status, latencyMs / 1000);
    trace.end(status);
    if (this.context.accessLog.enabled) {
      this.context.accessLog.write({
        requestId,
        traceId: trace.traceId,
        method: req.method,
        path,
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

/**
 * One try on one target; undici calls it back. Its flags are its own: the exchange arms, aborts
 * or abandons it through its methods. Once abandoned (or ended), every later callback is ignored.
 */
class UpstreamAttempt implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private timer: NodeJS.Timeout | undefined;
  private onStarted = false;
  private hasTimedOut = false;
  private abandoned = false;
  /** A retryable 502/503/504 whose body is read and dropped. */
  private discarding = false;
  /** Its final answer counts against the target in passive health (see `isReplicaFailure`). */
  private failedReplica = false;
  /** No longer counted in its target's `inFlight`. */
  private settled = false;
  /** The final status the upstream gave, 0 before it did. */
  private status = 0;
  /** Why it ended without a final status, for its span. */
  private error: string | null = null;
  private onDrain?: () => void;

  constructor(
    private readonly exchange: ProxyExchange,
    readonly pick: TargetPick,
    /** This attempt's own stream for a chunked body, piped from the client once the attempt starts. */
    readonly countedBody: RequestBodyStream | null,
    /** The body is the client's request stream itself. */
    readonly sendsClientStream: boolean,
    /** Its OpenTelemetry span, when exporting; ended when the attempt settles. */
    private readonly span: Span | null,
  ) {}

  /** The request is on a connection: from here on its bytes may reach the upstream. */
  get started(): boolean {
    return this.onStarted;
  }

  get timedOut(): boolean {
    return this.hasTimedOut;
  }

  get discarded(): boolean {
    return this.discarding;
  }

  get replicaFailed(): boolean {
    return this.failedReplica;
  }

  /** Starts the per-try timer. */
  arm(ms: number): void {
    this.timer = setTimeout(onAttemptTimeout, ms, this.exchange, this);
  }

  disarm(): void {
    clearTimeout(this.timer);
  }

  /** Reads the rest of the answer and drops it. */
  discardAnswer(): void {
    this.discarding = true;
  }

  /** Marks the per-try timeout; aborts the request when it is on a connection (then `true`). */
  abortOnTimeout(): boolean {
    this.hasTimedOut = true;
    if (this.controller === null) return false;
    this.controller.abort(new AttemptTimeoutError('per-try timeout'));
    return true;
  }

  /** Stops the attempt for good: see `ProxyExchange.abandonAttempt`. */
  abandon(reason: Error): void {
    this.error ??= reason.message;
    this.abandoned = true;
    this.settle();
    this.disarm();
    this.controller?.abort(reason);
  }

  /** Resumes the upstream response once the client has drained (one function per attempt, made on first need). */
  resumer(): () => void {
    return (this.onDrain ??= () => this.controller?.resume());
  }

  /** Takes the attempt out of its target's in-flight count, once. */
  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.pick.target.inFlight -= 1;
    if (this.span !== null) endAttemptSpan(this.span, this.status, this.error);
  }

  // Each callback catches its own errors: one thrown into undici would surface as a pool 'error'.
  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.abandoned) {
      controller.abort(new AttemptAbandonedError('attempt abandoned before it was sent'));
      return;
    }
    this.controller = controller;
    if (this.hasTimedOut) {
      // Only an attempt sending the client's stream outlives its timeout this far; see attemptTimedOut.
      this.exchange.clientBodySpent();
      controller.abort(new AttemptTimeoutError('per-try timeout before the request was sent'));
      return;
    }
    this.onStarted = true;
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
    if (statusCode >= 200) {
      this.status = statusCode;
      this.failedReplica = isReplicaFailure(statusCode, headers);
    }
    try {
      this.exchange.attemptResponded(this, statusCode, headers, statusMessage);
    } catch (err) {
      this.exchange.crash(err);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.abandoned || this.discarding) return;
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
    this.error = error.message;
    this.abandoned = true;
    this.settle();
    try {
      this.exchange.attemptErrored(this, error);
    } catch (err) {
      this.exchange.crash(err);
    }
  }
}
