import {
  APP_PINO,
  formatTraceparent,
  parseTraceparent,
  requestIdOf,
  SERVER_CONFIG,
  ServerConfig,
  ShutdownState,
  TRACEPARENT_HEADER,
  Tracing,
} from '@app/common';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { AuthOutcome } from '../../auth/auth.service';
import { AuthService } from '../../auth/auth.service';
import { GatewayMetrics, ServiceMetrics } from '../../metrics/gateway-metrics';
import { clientAddress } from '../../routing/client-address';
import type { WebSocketsConfig } from '../../routing/gateway-config';
import { PathCanonicalizer } from '../../routing/path-canonicalizer';
import type { RouteMatch } from '../../routing/route-table';
import { AccessLog } from '../access-log';
import {
  clientResponseHeaders,
  pushIdentityHeaders,
  upstreamRequestHeaders,
} from '../forwarded-headers';
import { HostHeaderCheck } from '../steps/host-header-check';
import { LiveConfig } from '../live-config';
import { UpstreamHealth } from '../upstream-health';
import type { ServiceUpstreams } from '../upstream-registry';
import { handshakeCredential, handshakeProblem, headerLines, writeRawError } from './handshake';
import { Tunnel } from './tunnel';
import { ServiceTunnelMetrics, TunnelMetrics, TunnelRefusal } from './tunnel-metrics';
import { TunnelRegistry } from './tunnel-registry';
import { UpstreamHandshake, UpstreamOutcome } from './upstream-handshake';

/** Bytes a client may send before its handshake is answered; beyond, it is dropped. */
const MAX_EARLY_BYTES = 64 * 1024;

/** A handshake on its way, from the client's request to its answer. */
interface Handshake {
  readonly req: IncomingMessage;
  readonly socket: Duplex;
  /** Bytes the client sent after its handshake, before the upstream answered. */
  head: Buffer;
  readonly requestId: string;
  /** The client's trace when its `traceparent` is valid, else a new one. */
  readonly traceId: string;
  readonly sampled: boolean;
  readonly started: number;
  /** The stripped path and the raw query, as the upstream gets them. */
  upstreamPath: string;
  /** Canonical, for the access log; `-` before the path was read. */
  path: string;
  upstreams: ServiceUpstreams | null;
  route: RouteMatch | null;
  /** The tunnel limits of the config generation the handshake arrived on. */
  limits: WebSocketsConfig | null;
  trustedProxyHops: number;
  target: string | null;
  attempts: number;
}

/**
 * A request with `Upgrade: websocket`, socket to tunnel, in this order: the host check and path
 * canonicalisation of every request, the route (a service with `websocket: true`; its fence), the
 * handshake's own rules, the drain, the route's auth policy exactly as the Authorization step
 * decides it, the tunnel limits, then the handshake with one healthy target of the service. Every
 * refusal is an HTTP answer in the gateway's error shape before anything is upgraded, counted and
 * access-logged like any request; a 101 is too, and the tunnel then relays bytes both ways.
 */
@Injectable()
export class WebSocketUpgrade {
  private readonly hostCheck = new HostHeaderCheck();
  private readonly unrouted: ServiceMetrics;
  private readonly unroutedTunnels: ServiceTunnelMetrics;
  private readonly revealTarget: boolean;

  constructor(
    private readonly canonicalizer: PathCanonicalizer,
    private readonly live: LiveConfig,
    private readonly health: UpstreamHealth,
    private readonly auth: AuthService,
    private readonly tunnels: TunnelRegistry,
    private readonly accessLog: AccessLog,
    private readonly shutdown: ShutdownState,
    metrics: GatewayMetrics,
    private readonly tunnelMetrics: TunnelMetrics,
    settings: ConfigService,
    @Inject(APP_PINO) private readonly logger: Logger,
    private readonly tracing: Tracing,
  ) {
    this.unrouted = metrics.forService('-');
    this.unroutedTunnels = tunnelMetrics.forService('-', false);
    for (const service of live.current.config.services) {
      tunnelMetrics.forService(service.name, service.websocket);
    }
    this.revealTarget = !settings.getOrThrow<ServerConfig>(SERVER_CONFIG).production;
  }

  handle(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', ignore);
    const parent = parseTraceparent(req.headers[TRACEPARENT_HEADER]);
    const handshake: Handshake = {
      req,
      socket,
      head,
      requestId: requestIdOf(req),
      traceId: parent?.traceId ?? this.tracing.ids.generateTraceId(),
      sampled: parent?.sampled ?? false,
      started: performance.now(),
      upstreamPath: '/',
      path: '-',
      upstreams: null,
      route: null,
      limits: null,
      trustedProxyHops: 0,
      target: null,
      attempts: 0,
    };
    try {
      this.admit(handshake);
    } catch (err) {
      // The last resort, as on the proxy path: 500, and the process keeps serving.
      this.logger.error({ err, requestId: handshake.requestId }, 'websocket handshake failure');
      this.refuse(handshake, 500, 'internal error', 'upstream-failed');
    }
  }

  private admit(handshake: Handshake): void {
    const { req } = handshake;
    const hostRefusal = this.hostCheck.refusal(req.rawHeaders);
    if (hostRefusal !== null) return this.refuse(handshake, 400, hostRefusal, 'bad-handshake');
    const canonical = this.canonicalizer.canonicalize(req.url);
    if (!canonical.ok) return this.refuse(handshake, 400, canonical.reason, 'bad-handshake');
    handshake.path = canonical.path;
    // Read once: a reload swaps the generation, never the one a handshake started on.
    const generation = this.live.current;
    handshake.limits = generation.config.websockets;
    handshake.trustedProxyHops = generation.config.trustedProxyHops;
    const route = generation.routes.resolve(canonical, req.method ?? 'GET');
    const notFound = `Cannot ${req.method ?? 'GET'} ${canonical.path}`;
    if (route === undefined) return this.refuse(handshake, 404, notFound, 'not-found');
    handshake.route = route;
    handshake.upstreamPath = route.path + canonical.query;
    handshake.upstreams = generation.services[route.service.index];
    if (route.fenced) return this.refuse(handshake, 404, notFound, 'not-found');
    if (!route.service.websocket) {
      const message = `${route.service.name} does not accept WebSocket upgrades`;
      return this.refuse(handshake, 400, message, 'not-enabled');
    }
    const problem = handshakeProblem(req);
    if (problem !== null) {
      return this.refuse(
        handshake,
        problem.status,
        problem.message,
        'bad-handshake',
        problem.headers,
      );
    }
    const credential = handshakeCredential(req);
    if (!credential.ok) return this.refuse(handshake, 400, credential.message, 'bad-handshake');
    if (this.shutdown.isDraining) {
      return this.refuse(handshake, 503, 'the gateway is shutting down', 'draining');
    }
    const decision = this.auth.authorize(route.policy, credential.authorization);
    const proceed = (outcome: AuthOutcome): void =>
      this.authorized(handshake, route, outcome, credential.protocols);
    if (!(decision instanceof Promise)) return proceed(decision);
    decision.then(proceed).catch((err: unknown) => {
      this.logger.error({ err, requestId: handshake.requestId }, 'websocket handshake failure');
      this.refuse(handshake, 500, 'internal error', 'upstream-failed');
    });
  }

  private authorized(
    handshake: Handshake,
    route: RouteMatch,
    outcome: AuthOutcome,
    protocols: string | null,
  ): void {
    if (handshake.socket.destroyed) return this.logged(handshake, 499);
    if (!outcome.ok) {
      const reason: TunnelRefusal =
        outcome.status === 401
          ? 'unauthorized'
          : outcome.status === 403
            ? 'forbidden'
            : 'auth-unavailable';
      const challenge = outcome.challenge ? { 'www-authenticate': outcome.challenge } : undefined;
      return this.refuse(handshake, outcome.status, outcome.message, reason, challenge);
    }
    const { req } = handshake;
    const principal = outcome.principal;
    const owner =
      principal !== undefined
        ? `user:${principal.claims.sub}`
        : `ip:${clientAddress(req, handshake.trustedProxyHops)}`;
    const admission = this.tunnels.admit(owner, handshake.limits!);
    if (admission === 'gateway-limit') {
      return this.refuse(handshake, 503, 'too many WebSocket tunnels', 'gateway-limit');
    }
    if (admission === 'user-limit') {
      return this.refuse(handshake, 429, 'too many WebSocket tunnels for this user', 'user-limit');
    }
    const headers = upstreamRequestHeaders(req, handshake.requestId).filter(
      (_, i, all) => all[i - (i % 2)] !== 'sec-websocket-protocol',
    );
    if (protocols !== null) headers.push('sec-websocket-protocol', protocols);
    headers.push('connection', 'Upgrade', 'upgrade', 'websocket');
    // The upstream continues the trace under a span id of the gateway's, as for a request.
    headers.push(
      TRACEPARENT_HEADER,
      formatTraceparent(handshake.traceId, this.tracing.ids.generateSpanId(), handshake.sampled),
    );
    if (principal !== undefined) pushIdentityHeaders(headers, principal);
    const upstreams = handshake.upstreams!;
    const upstream = new UpstreamHandshake(upstreams, this.health, handshake.upstreamPath, headers);
    // Read while the upstream answers, so that a client that leaves is noticed (a socket that is
    // not read never sees its end). A client may not send frames before the 101; a few bytes are
    // kept for the upstream, more is a client to drop.
    const early: Buffer[] = handshake.head.length > 0 ? [handshake.head] : [];
    let earlyBytes = handshake.head.length;
    const onEarly = (chunk: Buffer): void => {
      earlyBytes += chunk.length;
      if (earlyBytes > MAX_EARLY_BYTES) handshake.socket.destroy();
      else early.push(chunk);
    };
    const clientLeft = (): void => upstream.abort();
    handshake.socket.on('data', onEarly);
    handshake.socket.once('end', clientLeft);
    handshake.socket.once('close', clientLeft);
    upstream.outcome
      .then((result) => {
        handshake.socket.off('data', onEarly);
        handshake.socket.off('end', clientLeft);
        handshake.socket.off('close', clientLeft);
        handshake.head = early.length === 1 ? early[0] : Buffer.concat(early);
        handshake.attempts = result.attempts;
        handshake.target = result.pick?.target.origin ?? null;
        if (result.kind !== 'upgraded') this.tunnels.release(owner);
        const ended = handshake.socket.readableEnded;
        this.answer(
          handshake,
          result,
          { service: route.service.name, key: owner, principal },
          ended,
        );
      })
      .catch((err: unknown) => {
        this.logger.error({ err, requestId: handshake.requestId }, 'websocket handshake failure');
        handshake.socket.destroy();
      });
  }

  private answer(
    handshake: Handshake,
    result: UpstreamOutcome,
    owner: Tunnel['owner'],
    clientEnded: boolean,
  ): void {
    const { socket, requestId } = handshake;
    const metrics = this.tunnelMetrics.forService(owner.service, true);
    if (socket.destroyed || clientEnded) {
      socket.destroy();
      if (result.kind === 'upgraded') {
        this.tunnels.release(owner.key);
        result.socket.destroy();
      } else if (result.kind === 'answered') result.response.destroy();
      return this.logged(handshake, 499);
    }
    if (result.kind === 'failed') {
      const reason = result.status === 503 ? 'no-target' : 'upstream-failed';
      return this.refuse(handshake, result.status, result.message, reason);
    }
    const targetHeader: Record<string, string> = this.revealTarget
      ? { 'x-upstream-target': result.pick.target.origin }
      : {};
    if (result.kind === 'answered') {
      const { response } = result;
      metrics.refused('upstream-refused');
      const headers = { ...clientResponseHeaders(response.headers, requestId), ...targetHeader };
      const status = response.statusCode ?? 502;
      // Its end delimits the body when the upstream gave no length (the connection closes).
      socket.write(
        `HTTP/1.1 ${status} ${response.statusMessage ?? ''}\r\n${headerLines(headers)}connection: close\r\n\r\n`,
        'latin1',
      );
      response.on('error', () => socket.destroy());
      response.pipe(socket);
      this.logged(handshake, status);
      return;
    }
    const { response } = result;
    let head = 'HTTP/1.1 101 Switching Protocols\r\n';
    const raw = response.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i].toLowerCase() === 'x-request-id') continue;
      head += `${raw[i]}: ${raw[i + 1]}\r\n`;
    }
    head += `${headerLines({ ...targetHeader, 'x-request-id': requestId })}\r\n`;
    socket.write(head, 'latin1');
    const idleTimeoutMs = handshake.limits!.idleTimeoutMs;
    const tunnel = new Tunnel(owner, socket, result.socket, metrics, idleTimeoutMs, (t) => {
      this.tunnels.remove(t);
      metrics.open.dec();
    });
    this.tunnels.add(tunnel);
    metrics.open.inc();
    tunnel.start(handshake.head, result.head);
    this.logged(handshake, 101);
  }

  private refuse(
    handshake: Handshake,
    status: number,
    message: string,
    reason: TunnelRefusal,
    headers?: Record<string, string>,
  ): void {
    writeRawError(handshake.socket, status, message, handshake.requestId, headers);
    const service = handshake.route?.service;
    (service === undefined
      ? this.unroutedTunnels
      : this.tunnelMetrics.forService(service.name, service.websocket)
    ).refused(reason);
    this.logged(handshake, status);
  }

  /** Counts the handshake's answer with the service's requests and writes its access-log line. */
  private logged(handshake: Handshake, status: number): void {
    const latencyMs = performance.now() - handshake.started;
    (handshake.upstreams?.metrics ?? this.unrouted).record(status, latencyMs / 1000);
    if (!this.accessLog.enabled) return;
    this.accessLog.write({
      requestId: handshake.requestId,
      traceId: handshake.traceId,
      method: handshake.req.method,
      path: handshake.path,
      status,
      latencyMs: Math.round(latencyMs * 1000) / 1000,
      upstream: handshake.upstreams?.name ?? '-',
      target: handshake.target,
      attempts: handshake.attempts,
    });
  }
}

function ignore(): void {
  // a socket error ends in 'close', which the handshake or the tunnel handles
}
