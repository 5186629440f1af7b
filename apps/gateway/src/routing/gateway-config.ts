import { AUTHENTICATED, AuthPolicy } from './auth-policy';

/** One rule of a service's auth policy; the first rule that matches a request decides. */
export interface AuthRuleConfig {
  /** Upper-case methods; `null` matches any method. */
  readonly methods: readonly string[] | null;
  /** Exact path after the base path is stripped, or `null`. */
  readonly path: string | null;
  /** Segment-boundary prefix of the stripped path, or `null`. */
  readonly pathPrefix: string | null;
  readonly policy: AuthPolicy;
}

export interface AuthConfig {
  readonly default: AuthPolicy;
  readonly rules: readonly AuthRuleConfig[];
}

export interface TimeoutsConfig {
  /** TCP (and TLS) connect to one target. */
  readonly connectMs: number;
  /** One attempt, from dispatch until the final response headers; a try that exceeds it is retried. */
  readonly perTryMs: number;
  /**
   * The longest silence between two chunks of a response body once its headers came (like nginx's
   * `proxy_read_timeout`): a stream (server-sent events) may idle this long. Past it the client's
   * connection is cut; a body under way is never retried.
   */
  readonly idleMs: number;
}

export interface RetryConfig {
  readonly attempts: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
}

export interface PassiveHealthConfig {
  /** Consecutive failed attempts that eject a target. */
  readonly failures: number;
  readonly cooldownMs: number;
  readonly maxCooldownMs: number;
}

export interface ActiveHealthConfig {
  readonly enabled: boolean;
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export interface DiscoveryConfig {
  /** Targets whose host is a name (not an IP literal, not `localhost`) become one target per address. */
  readonly enabled: boolean;
  /** How often those names are resolved again. */
  readonly intervalMs: number;
}

export interface CorsConfig {
  /** Exact origins (`scheme://host[:port]`), or the single entry `*` when credentials are off. */
  readonly origins: readonly string[];
  readonly credentials: boolean;
  readonly methods: readonly string[];
  readonly allowHeaders: readonly string[];
  readonly exposeHeaders: readonly string[];
  readonly maxAgeSeconds: number;
}

/** GETs of a service kept by the gateway's response cache. */
export interface CacheConfig {
  /** Longest time an entry is served; an upstream `max-age`/`s-maxage` may shorten it. */
  readonly ttlSeconds: number;
  /** A larger response is streamed to the client and not cached. */
  readonly maxBodyBytes: number;
}

/** How a rate limit counts requests: per client address, or per signed-in user. */
export type RateLimitKey = 'ip' | 'user';

/** One rate limit; every limit whose methods and path match a request counts it. */
export interface RateLimitConfig {
  /** Upper-case methods; `null` matches any method. */
  readonly methods: readonly string[] | null;
  /** Exact path after the base path is stripped, or `null`. */
  readonly path: string | null;
  /** Segment-boundary prefix of the stripped path, or `null`. */
  readonly pathPrefix: string | null;
  readonly limit: number;
  readonly windowSeconds: number;
  /** `user` counts anonymous requests by address. */
  readonly by: RateLimitKey;
  /** When the shared counter store cannot answer: let the request through, or refuse it with 503. */
  readonly onStoreDown: 'allow' | 'deny';
}

/** Options every service has; `defaults` in the config file sets them for all services at once. */
export interface ServiceOptions {
  readonly timeouts: TimeoutsConfig;
  readonly retry: RetryConfig;
  readonly bodyLimitBytes: number;
  readonly connectionsPerTarget: number;
  readonly passiveHealth: PassiveHealthConfig;
  readonly activeHealth: ActiveHealthConfig;
  readonly discovery: DiscoveryConfig;
  readonly cors: CorsConfig | null;
  readonly auth: AuthConfig;
  /** `null`: nothing of this service is cached. */
  readonly cache: CacheConfig | null;
  readonly rateLimits: readonly RateLimitConfig[];
  /**
   * The service honours `Idempotency-Key` on POST and PATCH (a repeat with the same key does not
   * act twice), so the gateway may retry keyed POST/PATCH there. Off: they are sent once.
   */
  readonly idempotencyKeys: boolean;
}

export interface ServiceConfig extends ServiceOptions {
  /** Position in `services`, used as a dense index on the hot path. */
  readonly index: number;
  readonly name: string;
  /** Canonical, case-sensitive, without a trailing slash. */
  readonly basePath: string;
  /** Origins (`http(s)://host:port`) of the replicas. */
  readonly targets: readonly string[];
}

export interface GatewayConfig {
  /** The file the configuration was read from. */
  readonly source: string;
  readonly services: readonly ServiceConfig[];
  /**
   * Proxies in front of the gateway whose `X-Forwarded-For` entries are trusted: the client
   * address is the entry this many hops from the right; 0 = the socket's address only.
   */
  readonly trustedProxyHops: number;
}

export const DEFAULT_SERVICE_OPTIONS: ServiceOptions = {
  timeouts: { connectMs: 1_000, perTryMs: 5_000, idleMs: 60_000 },
  retry: { attempts: 3, backoffBaseMs: 100, backoffMaxMs: 2_000 },
  bodyLimitBytes: 1_048_576,
  connectionsPerTarget: 256,
  passiveHealth: { failures: 3, cooldownMs: 5_000, maxCooldownMs: 60_000 },
  activeHealth: { enabled: true, path: '/health/ready', intervalMs: 5_000, timeoutMs: 1_000 },
  discovery: { enabled: false, intervalMs: 5_000 },
  cors: null,
  auth: { default: AUTHENTICATED, rules: [] },
  cache: null,
  rateLimits: [],
  idempotencyKeys: false,
};

/** Paths the gateway serves itself; no service may be mounted on, above or below them. */
export const RESERVED_PATHS: readonly string[] = [
  '/health',
  '/metrics',
  '/api/auth',
  '/api/admin',
  '/dashboard',
  '/docs',
  '/docs-json',
];
