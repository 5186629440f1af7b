import type { TSchema } from '@sinclair/typebox';
import { AuthPolicy, readAuthPolicy } from './auth-policy';
import {
  AuthRuleDocument,
  GatewayConfigDocument,
  MERGED_OPTIONS,
  RateLimitDocument,
  ServiceDocument,
  ServiceOptionsDocument,
  ServiceOptionsSchema,
  WebSocketsSchema,
  TlsSchema,
} from './gateway-config.schema';

/*
 * The loaded config: the document of gateway-config.schema.ts with every default filled in, the
 * auth policies read and the absent request matches `null`. The types follow from the schema.
 */

/** A document part with its defaults filled in: every key present, lists read-only. */
type Filled<T> = T extends readonly (infer U)[]
  ? readonly Filled<U>[]
  : T extends object
    ? { readonly [K in keyof T]-?: Filled<Exclude<T[K], undefined>> }
    : T;

type MatchKey = 'methods' | 'path' | 'pathPrefix';

/** An auth rule or rate limit: an absent `methods`, `path` or `pathPrefix` is `null` (any). */
type Matched<T extends Partial<Record<MatchKey, unknown>>> = Filled<Omit<T, MatchKey>> & {
  readonly [K in MatchKey]-?: Filled<Exclude<T[K], undefined>> | null;
};

type Option<K extends keyof ServiceOptionsDocument> = Filled<
  Exclude<ServiceOptionsDocument[K], undefined>
>;

export type TimeoutsConfig = Option<'timeouts'>;
export type RetryConfig = Option<'retry'>;
export type PassiveHealthConfig = Option<'passiveHealth'>;
export type ActiveHealthConfig = Option<'activeHealth'>;
export type DiscoveryConfig = Option<'discovery'>;
export type CorsConfig = Exclude<Option<'cors'>, null | false>;
/** GETs of a service kept by the gateway's response cache. */
export type CacheConfig = Exclude<Option<'cache'>, null | false>;

/** One rule of a service's auth policy; the first rule that matches a request decides. */
export type AuthRuleConfig = Matched<Omit<AuthRuleDocument, 'policy'>> & {
  readonly policy: AuthPolicy;
};

export interface AuthConfig {
  readonly default: AuthPolicy;
  readonly rules: readonly AuthRuleConfig[];
}

/** One rate limit; every limit whose methods and path match a request counts it. */
export type RateLimitConfig = Matched<RateLimitDocument>;
/** How a rate limit counts requests: per client address, or per signed-in user. */
export type RateLimitKey = RateLimitConfig['by'];

/** A configured target: its origin and its weight. */
export interface TargetConfig {
  readonly url: string;
  readonly weight: number;
}

/** Options every service has; `defaults` in the config file sets them for all services at once. */
export type ServiceOptions = Filled<
  Omit<ServiceOptionsDocument, 'auth' | 'cors' | 'cache' | 'rateLimits'>
> & {
  readonly cors: CorsConfig | null;
  readonly auth: AuthConfig;
  /** `null`: nothing of this service is cached. */
  readonly cache: CacheConfig | null;
  readonly rateLimits: readonly RateLimitConfig[];
};

export type ServiceConfig = ServiceOptions &
  Filled<Pick<ServiceDocument, 'name' | 'basePath'>> & {
    /** The configured targets in the file's order, a plain URL read as weight 1. */
    readonly targets: readonly TargetConfig[];
    /** Position in `services`, used as a dense index on the hot path. */
    readonly index: number;
  };

/** Gateway-wide limits of WebSocket tunnels. */
export type WebSocketsConfig = Filled<Exclude<GatewayConfigDocument['websockets'], undefined>>;

export type GatewayConfig = Filled<Pick<GatewayConfigDocument, 'trustedProxyHops' | 'tls'>> & {
  readonly websockets: WebSocketsConfig;
  /** The file the configuration was read from. */
  readonly source: string;
  readonly services: readonly ServiceConfig[];
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

/** The options of a service that sets none, from the schema's defaults. */
export const DEFAULT_SERVICE_OPTIONS: ServiceOptions = resolveOptions({});

/** The config of a document the schema accepted (and the loader's cross-field checks passed). */
export function resolveGatewayConfig(
  document: GatewayConfigDocument,
  source: string,
): GatewayConfig {
  const defaults = layered(document.defaults ?? {}, {});
  return {
    source,
    trustedProxyHops: document.trustedProxyHops ?? 0,
    websockets: withDefaults(WebSocketsSchema, document.websockets) as WebSocketsConfig,
    tls: withDefaults(TlsSchema, document.tls) as GatewayConfig['tls'],
    services: document.services.map((service, index) => {
      const { name, basePath, targets, ...options } = service;
      return {
        ...resolveOptions(options, defaults),
        index,
        name,
        basePath,
        targets: targets.map((target): TargetConfig =>
          typeof target === 'string'
            ? { url: new URL(target).origin, weight: 1 }
            : { url: new URL(target.url).origin, weight: target.weight ?? 1 },
        ),
      };
    }),
  };
}

/** `entry` over `base`: the merged sections key by key, every other option whole. */
export function layered(
  entry: ServiceOptionsDocument,
  base: ServiceOptionsDocument,
): ServiceOptionsDocument {
  const result: Record<string, unknown> = { ...base, ...entry };
  for (const key of MERGED_OPTIONS) {
    if (base[key] !== undefined || entry[key] !== undefined) {
      result[key] = { ...base[key], ...entry[key] };
    }
  }
  return result;
}

function resolveOptions(
  entry: ServiceOptionsDocument,
  defaults: ServiceOptionsDocument = {},
): ServiceOptions {
  const filled = withDefaults(ServiceOptionsSchema, layered(entry, defaults)) as Filled<
    Omit<ServiceOptionsDocument, 'auth' | 'rateLimits'>
  > & {
    readonly auth: { readonly default: string; readonly rules: readonly AuthRuleDocument[] };
    readonly rateLimits: readonly (Filled<Omit<RateLimitDocument, MatchKey>> &
      Pick<RateLimitDocument, MatchKey>)[];
  };
  return {
    ...filled,
    cors: filled.cors || null,
    cache: filled.cache || null,
    auth: {
      default: policy(filled.auth.default),
      rules: filled.auth.rules.map((rule) => ({ ...matched(rule), policy: policy(rule.policy) })),
    },
    rateLimits: filled.rateLimits.map((limit) => ({ ...matched(limit), ...limit })),
  };
}

/** The request match of an auth rule or rate limit, each absent part `null` (any). */
function matched(
  entry: Readonly<Pick<RateLimitDocument, MatchKey>>,
): Matched<Pick<RateLimitDocument, MatchKey>> {
  return {
    methods: entry.methods ?? null,
    path: entry.path ?? null,
    pathPrefix: entry.pathPrefix ?? null,
  };
}

function policy(text: string): AuthPolicy {
  const read = readAuthPolicy(text);
  if (!read) throw new Error(`auth policy "${text}" passed the schema but cannot be read`);
  return read;
}

/**
 * `value` with the schema's `default` put in for every absent key, also inside lists and inside
 * the object branch of a `null`/`false`/object choice. A copy; `value` is not changed.
 */
export function withDefaults(schema: TSchema, value: unknown): unknown {
  const current: unknown = value === undefined ? structuredClone(schema.default) : value;
  if (Array.isArray(current) && schema.items) {
    return current.map((item) => withDefaults(schema.items as TSchema, item));
  }
  if (typeof current !== 'object' || current === null) return current;
  if (Array.isArray(schema.anyOf)) {
    const branch = (schema.anyOf as TSchema[]).find((s) => s.type === 'object');
    return branch ? withDefaults(branch, current) : current;
  }
  if (!schema.properties) return current;
  const result: Record<string, unknown> = { ...current };
  for (const [key, property] of Object.entries(schema.properties as Record<string, TSchema>)) {
    const filled = withDefaults(property, result[key]);
    if (filled !== undefined) result[key] = filled;
  }
  return result;
}
