import { APP_PINO, requestIdOf, SERVER_CONFIG, ServerConfig } from '@app/common';
import { IDENTITY_HEADERS } from '@app/contracts';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { AuthOutcome, AuthService } from '../auth/auth.service';
import { authorizationOf } from '../auth/bearer-token';
import type { Principal } from '../auth/principal';
import { ResponseCache } from '../cache/response-cache';
import { RateLimiter } from '../rate-limit/rate-limiter';
import type { CanonicalPath } from '../routing/path-canonicalizer';
import type { RouteMatch } from '../routing/route-table';
import { GatewayMetrics, ServiceMetrics } from '../metrics/gateway-metrics';
import { AccessLog } from './access-log';
import { isPreflight } from './cors-policy';
import { sendError } from './error-response';
import { upstreamRequestHeaders } from './forwarded-headers';
import { ExchangeContext, ProxyExchange } from './proxy-exchange';
import { BodyTooLargeError, readBody } from './request-body';
import { UpstreamHealth } from './upstream-health';
import { UpstreamRegistry } from './upstream-registry';

/** A request past auth, on its way through the route's rate limits and response cache. */
interface Admitted {
  readonly exchange: ProxyExchange;
  readonly req: IncomingMessage;
  readonly route: RouteMatch;
  readonly query: string;
  readonly principal: Principal | undefined;
  readonly forward: () => void;
}

/**
 * The lean request path for routed base paths: no Express, no Nest pipeline, the body never
 * parsed. It receives the canonical path and its route (service + auth policy), answers what the
 * gateway answers itself (`/internal`, CORS preflight, body limit) and hands the rest to a
 * `ProxyExchange` that forwards it.
 */
@Injectable()
export class ProxyHandler {
  private readonly context: ExchangeContext;
  /** Counts requests refused before routing (bad paths) under the service label `-`. */
  private readonly unrouted: ServiceMetrics;

  constructor(
    private readonly registry: UpstreamRegistry,
    health: UpstreamHealth,
    private readonly accessLog: AccessLog,
    metrics: GatewayMetrics,
    @Inject(APP_PINO) private readonly logger: Logger,
    private readonly auth: AuthService,
    private readonly limiter: RateLimiter,
    private readonly cache: ResponseCache,
    config: ConfigService,
  ) {
    const server = config.getOrThrow<ServerConfig>(SERVER_CONFIG);
    this.context = { health, accessLog, logger, revealTarget: !server.production };
    this.unrouted = metrics.forService('-');
  }

  handle(
    req: IncomingMessage,
    res: ServerResponse,
    canonical: CanonicalPath,
    route: RouteMatch,
  ): void {
    const started = performance.now();
    const requestId = requestIdOf(req);
    const upstreams = this.registry.get(route.service.index);
    const method = req.method ?? 'GET';
    const headers = req.headers;
    const contentLength = headers['content-length'];
    const replaySafe = upstreams.retry.isReplaySafe(
      method,
      headers['idempotency-key'] !== undefined,
    );
    const upstreamHeaders = upstreamRequestHeaders(req, requestId);
    const exchange = new ProxyExchange(this.context, {
      req,
      res,
      upstreams,
      route,
      upstreamPath: route.path + canonical.query,
      headers: upstreamHeaders,
      requestId,
      started,
      replaySafe,
    });

    if (route.fenced) {
      exchange.fail(404, `Cannot ${method} ${canonical.path}`);
      return;
    }
    if (isPreflight(method, headers)) {
      const cors = upstreams.cors?.preflightHeaders(headers.origin) ?? { vary: 'Origin' };
      res.writeHead(204, { ...cors, 'x-request-id': requestId });
      res.end();
      exchange.answered(204);
      return;
    }
    const limit = route.service.bodyLimitBytes;
    if (contentLength !== undefined && Number(contentLength) > limit) {
      exchange.fail(413, `request body exceeds ${limit} bytes`, { connection: 'close' });
      return;
    }

    // The route's policy for this request: synchronous for public routes, refusals decided from
    // the header alone and tokens in the local cache; a token-store lookup otherwise.
    const decision = this.auth.authorize(route.policy, authorizationOf(req));
    const admit = (outcome: AuthOutcome): void => {
      if (!outcome.ok) {
        const challenge = outcome.challenge ? { 'www-authenticate': outcome.challenge } : undefined;
        exchange.fail(outcome.status, outcome.message, challenge);
        return;
      }
      if (outcome.principal !== undefined) {
        const identity = outcome.principal.identityHeaders;
        upstreamHeaders.push(
          IDENTITY_HEADERS.userId,
          identity[IDENTITY_HEADERS.userId],
          IDENTITY_HEADERS.email,
          identity[IDENTITY_HEADERS.email],
          IDENTITY_HEADERS.roles,
          identity[IDENTITY_HEADERS.roles],
        );
      }
      if (route.rateLimits === null && route.service.cache === null) {
        this.forward(exchange, req, res, limit, replaySafe, contentLength);
        return;
      }
      this.limitThenCache({
        exchange,
        req,
        route,
        query: canonical.query,
        principal: outcome.principal,
        forward: () => this.forward(exchange, req, res, limit, replaySafe, contentLength),
      });
    };
    if (decision instanceof Promise) {
      decision.then(admit).catch((err: unknown) => exchange.crash(err));
    } else {
      admit(decision);
    }
  }

  /** The route's rate limits, then its response cache, then `forward` (for routes with either). */
  private limitThenCache(admitted: Admitted): void {
    const { exchange, route } = admitted;
    const limits = route.rateLimits;
    if (limits === null) {
      this.cacheThenForward(admitted);
      return;
    }
    this.limiter
      .check(route.service.name, limits, admitted.req, admitted.principal)
      .then((verdict) => {
        if (verdict.headers !== null) exchange.addHeaders(verdict.headers);
        if (!verdict.allowed) exchange.fail(verdict.status, verdict.message);
        else this.cacheThenForward(admitted);
      })
      .catch((err: unknown) => exchange.crash(err));
  }

  /** A cacheable GET is answered from the cache or forwarded with a capture; a write invalidates. */
  private cacheThenForward(admitted: Admitted): void {
    const { exchange, req, route, forward } = admitted;
    if (route.service.cache === null) {
      forward();
      return;
    }
    if (route.cache === null) {
      const method = req.method;
      if (method !== 'HEAD' && method !== 'OPTIONS') {
        exchange.observe(this.cache.invalidation(route.service.name));
      }
      forward();
      return;
    }
    // A GET with a body is not something the cache can key.
    if (hasBody(req)) {
      forward();
      return;
    }
    this.cache
      .lookup(route, route.cache, route.path + admitted.query, req, admitted.principal)
      .then((result) => {
        if (result.hit === null) {
          exchange.observe(result.tap);
          forward();
          return;
        }
        exchange.respond(result.hit.status, this.cache.hitHeaders(result.hit), result.hit.body);
      })
      .catch((err: unknown) => exchange.crash(err));
  }

  /** Sends the request upstream: without a body, with its bytes kept for replay, or streaming. */
  private forward(
    exchange: ProxyExchange,
    req: IncomingMessage,
    res: ServerResponse,
    limit: number,
    replaySafe: boolean,
    contentLength: string | undefined,
  ): void {
    const hasBody =
      contentLength !== undefined
        ? contentLength !== '0'
        : req.headers['transfer-encoding'] !== undefined;
    if (!hasBody) {
      exchange.send(null);
    } else if (replaySafe) {
      void readBody(req, limit)
        .then(
          (body) => exchange.send(body),
          (err: unknown) => {
            if (err instanceof BodyTooLargeError) {
              exchange.fail(413, err.message, { connection: 'close' });
            } else {
              // The client aborted its upload; the exchange logs it when the response closes.
              res.destroy();
            }
          },
        )
        .catch((err: unknown) => exchange.crash(err));
    } else {
      exchange.stream(contentLength === undefined ? limit : -1);
    }
  }

  /** A request refused before routing: its path is not canonical. */
  refuse(req: IncomingMessage, res: ServerResponse, reason: string): void {
    const started = performance.now();
    const requestId = requestIdOf(req);
    sendError(res, 400, reason, requestId, { connection: 'close' });
    const latencyMs = performance.now() - started;
    this.unrouted.record(400, latencyMs / 1000);
    this.accessLog.write({
      requestId,
      method: req.method,
      path: '-',
      status: 400,
      latencyMs: Math.round(latencyMs * 1000) / 1000,
      upstream: '-',
      target: null,
      attempts: 0,
    });
  }

  /** Last resort for an error thrown before an exchange took over: 500, and the process keeps serving. */
  crash(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    const requestId = requestIdOf(req);
    this.logger.error({ err, requestId }, 'proxy failure');
    sendError(res, 500, 'internal error', requestId);
  }
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return length !== undefined ? length !== '0' : req.headers['transfer-encoding'] !== undefined;
}
