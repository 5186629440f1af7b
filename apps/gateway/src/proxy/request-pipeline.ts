import {
  APP_PINO,
  parseTraceparent,
  requestIdOf,
  SERVER_CONFIG,
  ServerConfig,
  TRACEPARENT_HEADER,
  Tracing,
} from '@app/common';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { AuthService } from '../auth/auth.service';
import { ResponseCache } from '../cache/response-cache';
import { GatewayMetrics, ServiceMetrics } from '../metrics/gateway-metrics';
import { RateLimiter } from '../rate-limit/rate-limiter';
import { CanonicalPath, PathCanonicalizer } from '../routing/path-canonicalizer';
import { RouteMatch, RouteTable } from '../routing/route-table';
import { AccessLog } from './access-log';
import { sendError } from './error-response';
import { ExchangeTrace } from './exchange-trace';
import { upstreamRequestHeaders } from './forwarded-headers';
import { ExchangeContext, ProxyExchange } from './proxy-exchange';
import { ANSWERED, NEXT, ProxiedRequest, ProxyStep, StepVerdict } from './proxy-step';
import { Authorization } from './steps/authorization';
import { BodyLimit } from './steps/body-limit';
import { CacheLookup } from './steps/cache-lookup';
import { CorsPreflight } from './steps/cors-preflight';
import { Fence } from './steps/fence';
import { Forward } from './steps/forward';
import { HostHeaderCheck } from './steps/host-header-check';
import { RateLimit } from './steps/rate-limit';
import { UpstreamHealth } from './upstream-health';
import { UpstreamRegistry } from './upstream-registry';

/** Where a request that is not under a service's base path goes: Express (health, metrics, admin, 404). */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Every request the HTTP server receives, socket to response, in this order:
 *
 *  1. `HostHeaderCheck`    more than one Host header: 400.
 *  2. `PathCanonicalizer`  a path that is not canonical (dot segments, encoded slashes...): 400.
 *  3. `RouteTable`         not under a service's base path: to Express, and the pipeline is done.
 *     A routed request gets its `ProxyExchange`, then goes through its service's steps
 *     (`ROUTE_STEPS` order, less those that never apply to the service):
 *  4. `Fence`              `/internal`, `/metrics` and the raw OpenAPI document: 404.
 *  5. `CorsPreflight`      a CORS preflight: 204, answered by the gateway.
 *  6. `BodyLimit`          a declared body over `bodyLimitBytes`: 413.
 *  7. `Authorization`      the route's auth policy: 401/403, or identity headers for the upstream.
 *  8. `RateLimit`          the route's rate limits: 429 (or 503), else `RateLimit-*` headers.
 *  9. `CacheLookup`        a cached answer, or a tap that captures (GET) or invalidates (write).
 * 10. `Forward`            the exchange sends the request upstream and streams the answer back.
 *
 * Each step answers or passes on. Only `Authorization` (a token-store lookup), `RateLimit` and
 * `CacheLookup` may wait for I/O; a public GET of a service without limits or cache runs through
 * without a promise. A new step is a class implementing `ProxyStep`, placed in `ROUTE_STEPS`.
 */
@Injectable()
export class RequestPipeline {
  private readonly hostCheck = new HostHeaderCheck();
  /** Per service (`ServiceConfig.index`): the steps of `ROUTE_STEPS` that apply to it, in order. */
  private readonly stepsOf: readonly (readonly ProxyStep[])[];
  private readonly context: ExchangeContext;
  /** Counts requests refused before routing (bad paths) under the service label `-`. */
  private readonly unrouted: ServiceMetrics;

  constructor(
    private readonly canonicalizer: PathCanonicalizer,
    private readonly routes: RouteTable,
    private readonly registry: UpstreamRegistry,
    health: UpstreamHealth,
    private readonly accessLog: AccessLog,
    metrics: GatewayMetrics,
    @Inject(APP_PINO) private readonly logger: Logger,
    auth: AuthService,
    limiter: RateLimiter,
    cache: ResponseCache,
    config: ConfigService,
    private readonly tracing: Tracing,
  ) {
    const ROUTE_STEPS: readonly ProxyStep[] = [
      new Fence(),
      new CorsPreflight(),
      new BodyLimit(),
      new Authorization(auth),
      new RateLimit(limiter),
      new CacheLookup(cache),
      new Forward(),
    ];
    this.stepsOf = registry.services.map((upstreams) =>
      ROUTE_STEPS.filter((step) => step.appliesTo(upstreams.config)),
    );
    const server = config.getOrThrow<ServerConfig>(SERVER_CONFIG);
    this.context = { health, accessLog, logger, revealTarget: !server.production };
    this.unrouted = metrics.forService('-');
  }

  /** Steps 1 to 3, then the routed request's steps; what is not routed goes to `toExpress`. */
  dispatch(req: IncomingMessage, res: ServerResponse, toExpress: RequestListener): void {
    let request: ProxiedRequest | undefined;
    try {
      const refusal = this.hostCheck.refusal(req.rawHeaders);
      if (refusal !== null) {
        this.refuse(req, res, refusal);
        return;
      }
      const canonical = this.canonicalizer.canonicalize(req.url);
      if (!canonical.ok) {
        this.refuse(req, res, canonical.reason);
        return;
      }
      const route = this.routes.resolve(canonical, req.method ?? 'GET');
      if (route === undefined) {
        toExpress(req, res);
        return;
      }
      request = this.exchangeFor(req, res, canonical, route);
      this.advance(request, 0);
    } catch (err) {
      if (request !== undefined) request.exchange.crash(err);
      else this.crash(req, res, err);
    }
  }

  /** Runs the request's steps from `from` until one answers; an asynchronous one resumes it later. */
  private advance(request: ProxiedRequest, from: number): void {
    const steps = this.stepsOf[request.route.service.index];
    for (let i = from; i < steps.length; i++) {
      const verdict = steps[i].run(request);
      if (verdict === NEXT) continue;
      if (verdict !== ANSWERED) this.resumeAfter(request, verdict, i + 1);
      return;
    }
  }

  private resumeAfter(request: ProxiedRequest, pending: Promise<StepVerdict>, next: number): void {
    pending
      .then((verdict) => {
        if (verdict === NEXT) this.advance(request, next);
      })
      .catch((err: unknown) => request.exchange.crash(err));
  }

  private exchangeFor(
    req: IncomingMessage,
    res: ServerResponse,
    canonical: CanonicalPath,
    route: RouteMatch,
  ): ProxiedRequest {
    const started = performance.now();
    const requestId = requestIdOf(req);
    const upstreams = this.registry.get(route.service.index);
    const replaySafe = upstreams.retry.isReplaySafe(
      req.method ?? 'GET',
      req.headers['idempotency-key'] !== undefined,
    );
    const headers = upstreamRequestHeaders(req, requestId);
    const trace = ExchangeTrace.begin(
      this.tracing,
      req,
      route.service.basePath,
      canonical.path,
      headers,
    );
    const exchange = new ProxyExchange(this.context, {
      req,
      res,
      upstreams,
      route,
      upstreamPath: route.path + canonical.query,
      headers,
      requestId,
      trace,
      started,
      replaySafe,
    });
    return new ProxiedRequest(
      req,
      res,
      route,
      canonical,
      upstreams,
      requestId,
      exchange,
      headers,
      replaySafe,
    );
  }

  /** A request refused before routing: 400, counted and logged under the service `-`. */
  private refuse(req: IncomingMessage, res: ServerResponse, reason: string): void {
    const started = performance.now();
    const requestId = requestIdOf(req);
    sendError(res, 400, reason, requestId, { connection: 'close' });
    const latencyMs = performance.now() - started;
    this.unrouted.record(400, latencyMs / 1000);
    this.accessLog.write({
      requestId,
      traceId:
        parseTraceparent(req.headers[TRACEPARENT_HEADER])?.traceId ??
        this.tracing.ids.generateTraceId(),
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
  private crash(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    const requestId = requestIdOf(req);
    this.logger.error({ err, requestId }, 'proxy failure');
    sendError(res, 500, 'internal error', requestId);
  }
}
