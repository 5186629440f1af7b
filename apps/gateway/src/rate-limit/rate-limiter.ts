import { APP_PINO, LogThrottle } from '@app/common';
import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import type { GatewayConfig, RateLimitConfig } from '../routing/gateway-config';
import { GATEWAY_CONFIG } from '../routing/routing.tokens';
import { clientAddress } from '../routing/client-address';
import { RateLimitStore, WindowCount } from '../redis/rate-limit-store';

/** What a per-user limit reads of a verified caller (the auth step's `Principal`). */
export interface LimitedCaller {
  readonly claims: { readonly sub: string };
}
/** The answer for one request: go ahead (with `RateLimit-*` headers when known), or 429/503. */
export type RateLimitVerdict =
  | { readonly allowed: true; readonly headers: OutgoingHttpHeaders | null }
  | {
      readonly allowed: false;
      readonly status: 429 | 503;
      readonly message: string;
      readonly headers: OutgoingHttpHeaders;
    };

type Outcome = 'allowed' | 'limited' | 'store_down_allowed' | 'store_down_denied';

const STORE_DOWN_ALLOWED: RateLimitVerdict = Object.freeze({ allowed: true, headers: null });
const STORE_DOWN_DENIED: RateLimitVerdict = Object.freeze({
  allowed: false,
  status: 503,
  message: 'rate limiting is temporarily unavailable',
  headers: Object.freeze({ 'retry-after': '1' }),
});

/**
 * The per-route limits of the config. Every limit matching a request counts it, before the cache
 * is asked, by client address (see `clientAddress`) or by signed-in user (anonymous requests by
 * address); a request over any of them gets 429 with `Retry-After`. Allowed responses carry the
 * `RateLimit-Limit`, `-Remaining` and `-Reset` headers of the limit closest to running out.
 * When the store cannot answer, each limit's `onStoreDown` decides: `allow` (default) lets the
 * request through uncounted, `deny` refuses it with 503.
 */
@Injectable()
export class RateLimiter {
  private readonly trustedHops: number;
  /**
   * `<service>:<index>:` for each configured limit, so a request builds its keys by concatenation.
   * Weak: the limits of a config that was reloaded away go with it; a limit at the same place of
   * the same service keeps counting in the same windows.
   */
  private readonly keyPrefixes = new WeakMap<RateLimitConfig, string>();
  private readonly outcomes: Counter<'service' | 'outcome'>;
  private readonly storeDownLog = new LogThrottle();

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    private readonly store: RateLimitStore,
    metrics: GatewayMetrics,
    @Inject(APP_PINO) private readonly logger: Logger,
  ) {
    this.trustedHops = config.trustedProxyHops;
    this.register(config);
    this.outcomes = new Counter({
      name: 'gateway_rate_limit_decisions_total',
      help: 'Requests checked against rate limits, by service and outcome',
      labelNames: ['service', 'outcome'] as const,
      registers: [metrics.registry],
    });
  }

  /** Knows the limits of `config` from now on (a reloaded config; `trustedProxyHops` stays as at start). */
  register(config: GatewayConfig): void {
    for (const service of config.services) {
      service.rateLimits.forEach((limit, i) =>
        this.keyPrefixes.set(limit, `${service.name}:${i}:`),
      );
    }
  }

  /** Counts the request against `limits` (the route's, never empty) and decides. */
  check(
    service: string,
    limits: readonly RateLimitConfig[],
    req: IncomingMessage,
    principal: LimitedCaller | undefined,
  ): Promise<RateLimitVerdict> {
    let address: string | undefined;
    const keys = limits.map((limit) => {
      const prefix = this.keyPrefixes.get(limit)!;
      if (limit.by === 'user' && principal !== undefined)
        return `${prefix}user:${principal.claims.sub}`;
      address ??= clientAddress(req, this.trustedHops);
      return `${prefix}ip:${address}`;
    });
    const windows = limits.map((limit) => limit.windowSeconds * 1000);
    return this.store.hit(keys, windows).then(
      (counts) => this.decide(service, limits, counts),
      (err: unknown) => this.storeDown(service, limits, err),
    );
  }

  private decide(
    service: string,
    limits: readonly RateLimitConfig[],
    counts: readonly WindowCount[],
  ): RateLimitVerdict {
    let tightest = 0;
    let retryAfterMs = -1;
    limits.forEach((limit, i) => {
      const count = counts[i];
      if (count.count > limit.limit) retryAfterMs = Math.max(retryAfterMs, count.resetInMs);
      const remaining = limit.limit - count.count;
      const best = limits[tightest].limit - counts[tightest].count;
      if (
        remaining < best ||
        (remaining === best && count.resetInMs > counts[tightest].resetInMs)
      ) {
        tightest = i;
      }
    });
    const headers: OutgoingHttpHeaders = {
      'ratelimit-limit': String(limits[tightest].limit),
      'ratelimit-remaining': String(Math.max(limits[tightest].limit - counts[tightest].count, 0)),
      'ratelimit-reset': String(Math.ceil(counts[tightest].resetInMs / 1000)),
    };
    if (retryAfterMs < 0) {
      this.count(service, 'allowed');
      return { allowed: true, headers };
    }
    this.count(service, 'limited');
    headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
    return { allowed: false, status: 429, message: 'rate limit exceeded', headers };
  }

  private storeDown(
    service: string,
    limits: readonly RateLimitConfig[],
    err: unknown,
  ): RateLimitVerdict {
    if (this.storeDownLog.allow()) {
      this.logger.warn(
        { err, service },
        'rate limit store unavailable; each limit applies its onStoreDown setting',
      );
    }
    if (limits.some((limit) => limit.onStoreDown === 'deny')) {
      this.count(service, 'store_down_denied');
      return STORE_DOWN_DENIED;
    }
    this.count(service, 'store_down_allowed');
    return STORE_DOWN_ALLOWED;
  }

  private count(service: string, outcome: Outcome): void {
    this.outcomes.labels(service, outcome).inc();
  }
}
