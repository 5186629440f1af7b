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
import { GatewayMetrics, ServiceMetrics } from '../metrics/gateway-metrics';
import { CanonicalPath, PathCanonicalizer } from '../routing/path-canonicalizer';
import type { RouteMatch } from '../routing/route-table';
import { AccessLog } from './access-log';
import type { ConfigGeneration } from './config-generation';
import { sendError } from './error-response';
import { ExchangeTrace } from './exchange-trace';
import { upstreamRequestHeaders } from './forwarded-headers';
import { ExchangeContext, ProxyExchange } from './proxy-exchange';
import { LiveConfig } from './live-config';
import { ANSWERED, NEXT, ProxiedRequest, ProxyStep, StepVerdict } from './proxy-step';
import { HostHeaderCheck } from './steps/host-header-check';
import { UpstreamHealth } from './upstream-health';

/** Where a request that is not under a service's base path goes: Express (health, metrics, admin, 404). */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Every request the HTTP server receives, socket to response, in this order:
 *
 *  1. `HostHeaderCheck`    more than one Host header: 400.
 *  2. `PathCanonicalizer`  a path that is not canonical (dot segments, encoded slashes...): 400.
 *  3. `RouteTable`         not under a service's base path: to Express, and the pipeline is done.
 *     A routed request gets its `ProxyExchange`, then goes through its service's steps
 *     (`RouteSteps` order, less those that never apply to the service):
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
 * without a promise. A new step is a class implementing `ProxyStep`, placed in `ROUTE_STEPS`
 * (`route-steps.ts`). Routes, services and steps come from the config generation in effect when
 * the request arrived (`LiveConfig.current`, read once), which a reload never changes under it.
 */
@Injectable()
export class RequestPipeline {
  private readonly hostCheck = new HostHeaderCheck();
  private readonly context: ExchangeContext;
  /** Counts requests refused before routing (bad paths) under the service label `-`. */
  private readonly unrouted: ServiceMetrics;

  constructor(
    private readonly canonicalizer: PathCanonicalizer,
    private readonly live: LiveConfig,
    health: UpstreamHealth,
    private readonly accessLog: AccessLog,
    metrics: GatewayMetrics,
    @Inject(APP_PINO) private readonly logger: Logger,
    config: ConfigService,
    private readonly tracing: Tracing,
  ) {
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
      const generation = this.live.current;
      const route = generation.routes.resolve(canonical, req.method ?? 'GET');
      if (route === undefined) {
        toExpress(req, res);
        return;
      }
      request = this.exchangeFor(req, res, canonical, route, generation);
      this.advance(request, generation.stepsOf[route.service.index], 0);
    } catch (err) {
      if (request !== undefined) request.exchange.crash(err);
      else this.crash(req, res, err);
    }
  }

  /** Runs the request's steps from `from` until one answers; an asynchronous one resumes it later. */
  private advance(request: ProxiedRequest, steps: readonly ProxyStep[], from: number): void {
    for (let i = from; i < steps.length; i++) {
      const verdict = steps[i].run(request);
      if (verdict === NEXT) continue;
      if (verdict !== ANSWERED) this.resumeAfter(request, steps, verdict, i + 1);
      return;
    }
  }

  private resumeAfter(
    request: ProxiedRequest,
    steps: readonly ProxyStep[],
    pending: Promise<StepVerdict>,
    next: number,
  ): void {
    pending
      .then((verdict) => {
        if (verdict === NEXT) this.advance(request, steps, next);
      })
      .catch((err: unknown) => request.exchange.crash(err));
  }

  private exchangeFor(
    req: IncomingMessage,
    res: ServerResponse,
    canonical: CanonicalPath,
    route: RouteMatch,
    generation: ConfigGeneration,
  ): ProxiedRequest {
    const started = performance.now();
    const requestId = requestIdOf(req);
    const upstreams = generation.services[route.service.index];
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
      path: canonical.path,
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
