/** Who may call a route: anyone, any signed-in user, or a user holding a role. */
export type AuthPolicy =
  | { readonly kind: 'public' }
  | { readonly kind: 'authenticated' }
  | { readonly kind: 'role'; readonly role: string };

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
  /** One attempt, from dispatch until the response headers; also the longest pause inside a body. */
  readonly perTryMs: number;
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

export interface CorsConfig {
  /** Exact origins (`scheme://host[:port]`), or the single entry `*` when credentials are off. */
  readonly origins: readonly string[];
  readonly credentials: boolean;
  readonly methods: readonly string[];
  readonly allowHeaders: readonly string[];
  readonly exposeHeaders: readonly string[];
  readonly maxAgeSeconds: number;
}

/** Options every service has; `defaults` in the config file sets them for all services at once. */
export interface ServiceOptions {
  readonly timeouts: TimeoutsConfig;
  readonly retry: RetryConfig;
  readonly bodyLimitBytes: number;
  readonly connectionsPerTarget: number;
  readonly passiveHealth: PassiveHealthConfig;
  readonly activeHealth: ActiveHealthConfig;
  readonly cors: CorsConfig | null;
  readonly auth: AuthConfig;
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
}

export const PUBLIC: AuthPolicy = Object.freeze({ kind: 'public' });
export const AUTHENTICATED: AuthPolicy = Object.freeze({ kind: 'authenticated' });

export const DEFAULT_SERVICE_OPTIONS: ServiceOptions = {
  timeouts: { connectMs: 1_000, perTryMs: 5_000 },
  retry: { attempts: 3, backoffBaseMs: 100, backoffMaxMs: 2_000 },
  bodyLimitBytes: 1_048_576,
  connectionsPerTarget: 256,
  passiveHealth: { failures: 3, cooldownMs: 5_000, maxCooldownMs: 60_000 },
  activeHealth: { enabled: true, path: '/health/ready', intervalMs: 5_000, timeoutMs: 1_000 },
  cors: null,
  auth: { default: AUTHENTICATED, rules: [] },
};

/** Paths the gateway serves itself; no service may be mounted on, above or below them. */
export const RESERVED_PATHS: readonly string[] = ['/health', '/metrics', '/api/auth'];
