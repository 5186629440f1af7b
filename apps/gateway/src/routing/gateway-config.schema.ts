import { ROLE_NAME } from '@app/contracts';
import { Static, StringOptions, TProperties, TSchema, Type } from '@sinclair/typebox';

/*
 * The gateway config file, as one JSON Schema: what a key means (`description`), its bounds, its
 * default and the message a wrong value gets (`errorMessage`, which editors show too). The loader's
 * types are derived from it (gateway-config.ts) and config/gateway.schema.json is generated from it.
 * Formats are the gateway's own (gateway-config.formats.ts); an editor ignores them and the
 * gateway checks them.
 */

/** A string out of a fixed set, inferred as the union of its values. */
function oneOf<const T extends readonly string[]>(
  values: T,
  fallback: T[number],
  description: string,
) {
  return Type.Optional(
    Type.Unsafe<T[number]>({ type: 'string', enum: [...values], default: fallback, description }),
  );
}

const integer = (minimum: number, maximum: number, fallback: number, description: string) =>
  Type.Optional(Type.Integer({ minimum, maximum, default: fallback, description }));

const flag = (fallback: boolean, description: string) =>
  Type.Optional(Type.Boolean({ default: fallback, description }));

/** A section whose keys all have defaults; `{}` is that section with every default. */
const section = <P extends TProperties>(description: string, properties: P) =>
  Type.Optional(Type.Object(properties, { additionalProperties: false, default: {}, description }));

const canonicalPath = (errorMessage: string, description: string) =>
  Type.String({ format: 'canonical-path', pattern: '^/', errorMessage, description });

const METHOD = Type.String({
  pattern: '^[A-Z]{1,20}$',
  errorMessage: 'must be an upper-case HTTP method such as GET',
});

const HEADER_NAME = Type.String({
  pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$",
  errorMessage: 'not a header name',
});

const authPolicy = (options: StringOptions = {}) =>
  Type.String({
    pattern: `^(public|authenticated|role:${ROLE_NAME.source.replace(/^\^|\$$/g, '')})$`,
    errorMessage: 'must be public, authenticated or role:<name>',
    examples: ['public', 'authenticated', 'role:admin'],
    description: 'public: anyone; authenticated: any signed-in user; role:<name>: users holding it',
    ...options,
  });

/** Which requests an auth rule or a rate limit applies to: `path` and `pathPrefix` exclude each other. */
const REQUEST_MATCH = {
  methods: Type.Optional(
    Type.Array(METHOD, { description: 'Upper-case methods; absent: any method' }),
  ),
  path: Type.Optional(
    canonicalPath(
      'must be a canonical path starting with "/"',
      'Exact path after the base path is stripped',
    ),
  ),
  pathPrefix: Type.Optional(
    canonicalPath(
      'must be a canonical path starting with "/"',
      'Segment-boundary prefix of the path after the base path is stripped',
    ),
  ),
};
const ONE_PATH_KIND = {
  not: { required: ['path', 'pathPrefix'] },
  errorMessage: 'use either path or pathPrefix, not both',
};

export const TimeoutsSchema = section('Time limits of one request to a target', {
  connectMs: integer(1, 60_000, 1_000, 'TCP (and TLS) connect to one target'),
  perTryMs: integer(
    1,
    600_000,
    5_000,
    'One attempt, from dispatch until the final response headers; a try that exceeds it is retried',
  ),
  idleMs: integer(
    1,
    3_600_000,
    60_000,
    'The longest silence between two chunks of a response body once its headers came (like ' +
      "nginx's proxy_read_timeout): a stream may idle this long. Past it the client's connection " +
      'is cut; a body under way is never retried',
  ),
});

export const RetrySchema = section('Retries of a failed attempt on the next target', {
  attempts: integer(1, 10, 3, 'Attempts in all, the first included'),
  backoffBaseMs: integer(0, 60_000, 100, 'Base of the full-jitter exponential backoff'),
  backoffMaxMs: integer(0, 300_000, 2_000, 'Cap of the backoff; not below backoffBaseMs'),
});

export const PassiveHealthSchema = section('Ejection of a target after failed requests', {
  failures: integer(1, 1_000, 3, 'Consecutive failed attempts that eject a target'),
  cooldownMs: integer(1, 3_600_000, 5_000, 'First ejection time; doubled on each repeat'),
  maxCooldownMs: integer(1, 3_600_000, 60_000, 'Longest ejection time; not below cooldownMs'),
});

export const ActiveHealthSchema = section('Periodic health checks of every target', {
  enabled: flag(true, 'Off: a target is taken out by passive health alone'),
  path: Type.Optional(
    Type.String({
      format: 'canonical-path',
      pattern: '^/',
      errorMessage: 'must be a canonical path',
      default: '/health/ready',
      description: 'Path requested on each target; any 2xx is up',
    }),
  ),
  intervalMs: integer(50, 3_600_000, 5_000, 'Time between two checks of a target'),
  timeoutMs: integer(1, 60_000, 1_000, 'A check slower than this is a failure'),
});

export const DiscoverySchema = section('Expansion of target host names to their addresses', {
  enabled: flag(
    false,
    'Targets whose host is a name (not an IP literal, not localhost) become one target per address',
  ),
  intervalMs: integer(50, 3_600_000, 5_000, 'How often those names are resolved again'),
});

export const CorsSchema = Type.Object(
  {
    origins: Type.Array(
      Type.String({
        format: 'cors-origin',
        errorMessage: 'must be an exact origin such as https://shop.example.com',
      }),
      {
        description:
          'Exact origins (scheme://host[:port]), or the single entry * without credentials',
      },
    ),
    credentials: flag(false, 'Let the browser send cookies and authorization'),
    methods: Type.Optional(
      Type.Array(METHOD, { default: ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'] }),
    ),
    allowHeaders: Type.Optional(
      Type.Array(HEADER_NAME, {
        default: ['authorization', 'content-type', 'idempotency-key', 'x-request-id'],
      }),
    ),
    exposeHeaders: Type.Optional(Type.Array(HEADER_NAME, { default: ['x-request-id'] })),
    maxAgeSeconds: integer(0, 86_400, 600, 'How long a browser may keep a preflight answer'),
  },
  { additionalProperties: false },
);

export const AuthRuleSchema = Type.Object(
  { ...REQUEST_MATCH, policy: authPolicy() },
  { additionalProperties: false, ...ONE_PATH_KIND },
);

export const AuthSchema = Type.Object(
  {
    default: Type.Optional(authPolicy({ default: 'authenticated' })),
    rules: Type.Optional(
      Type.Array(AuthRuleSchema, {
        default: [],
        description: 'The first rule that matches a request decides; none: the default',
      }),
    ),
  },
  { additionalProperties: false, default: {}, description: 'Who may use the service' },
);

export const CacheSchema = Type.Object(
  {
    ttlSeconds: Type.Integer({
      minimum: 1,
      maximum: 86_400,
      description: 'Longest time an entry is served; an upstream max-age/s-maxage may shorten it',
    }),
    maxBodyBytes: integer(
      1,
      16_777_216,
      262_144,
      'A larger response is streamed to the client and not cached',
    ),
  },
  { additionalProperties: false },
);

export const RateLimitSchema = Type.Object(
  {
    ...REQUEST_MATCH,
    limit: Type.Integer({ minimum: 1, maximum: 1_000_000_000, description: 'Requests per window' }),
    windowSeconds: Type.Integer({ minimum: 1, maximum: 86_400 }),
    by: oneOf(['ip', 'user'], 'ip', 'user counts anonymous requests by address'),
    onStoreDown: oneOf(
      ['allow', 'deny'],
      'allow',
      'When the shared counter store cannot answer: let the request through, or refuse it with 503',
    ),
  },
  { additionalProperties: false, ...ONE_PATH_KIND },
);

/** `null` or `false` turns a feature off, also one that `defaults` turned on. */
const orOff = <T extends TSchema>(schema: T, description: string) =>
  Type.Optional(
    Type.Union([schema, Type.Null(), Type.Literal(false)], {
      default: null,
      description,
      errorMessage: 'must be an object, or null or false to turn it off',
    }),
  );

/** How a service's balancer picks a target for each attempt. */
export const BALANCERS = ['round-robin', 'least-request', 'weighted'] as const;

/** The largest weight of a target: its share is its weight over the sum of its service's. */
export const MAX_WEIGHT = 1_000;

const ORIGIN = Type.String({
  minLength: 1,
  format: 'http-origin',
  errorMessage: 'not an http(s) URL',
  description: 'http(s)://host:port, no path',
});

/**
 * A target with its weight. The weight belongs to the configured target, so every address that
 * discovery resolves its name to carries it.
 */
export const WeightedTargetSchema = Type.Object(
  {
    url: ORIGIN,
    weight: integer(
      1,
      MAX_WEIGHT,
      1,
      'Share of the requests under the weighted balancer: weight over the sum of the weights',
    ),
  },
  { additionalProperties: false },
);

/**
 * Options every service has; `defaults` sets them for all services at once. A service's
 * timeouts, retry, passiveHealth, activeHealth and discovery override the defaults key by key;
 * its cors, auth, cache and rateLimits replace them whole.
 */
export const SERVICE_OPTIONS = {
  timeouts: TimeoutsSchema,
  retry: RetrySchema,
  bodyLimitBytes: integer(0, 1 << 30, 1_048_576, 'Largest request body; larger ones get 413'),
  connectionsPerTarget: integer(1, 10_000, 256, 'Connection pool size per target'),
  passiveHealth: PassiveHealthSchema,
  activeHealth: ActiveHealthSchema,
  discovery: DiscoverySchema,
  cors: orOff(CorsSchema, 'Browser clients from other origins; null: none'),
  auth: Type.Optional(AuthSchema),
  cache: orOff(CacheSchema, 'GETs of the service kept by the response cache; null: none'),
  rateLimits: Type.Optional(
    Type.Array(RateLimitSchema, {
      default: [],
      description: 'Every limit whose methods and path match a request counts it',
    }),
  ),
  balancer: oneOf(
    BALANCERS,
    'round-robin',
    'How a request picks a target: round-robin in turn; least-request the one with fewer ' +
      'attempts in flight of two chosen at random; weighted smooth weighted round-robin by the ' +
      "targets' weights",
  ),
  websocket: flag(
    false,
    'Requests with Upgrade: websocket are authenticated like any request and tunnelled to one ' +
      'target; off: such a handshake is answered 400',
  ),
  idempotencyKeys: flag(
    false,
    'The service honours Idempotency-Key on POST and PATCH (a repeat with the same key does not ' +
      'act twice), so the gateway may retry keyed POST/PATCH there. Off: they are sent once',
  ),
};

/** The option keys merged key by key from `defaults` into a service. */
export const MERGED_OPTIONS = [
  'timeouts',
  'retry',
  'passiveHealth',
  'activeHealth',
  'discovery',
] as const satisfies readonly (keyof typeof SERVICE_OPTIONS)[];

export const ServiceOptionsSchema = Type.Object(SERVICE_OPTIONS, {
  additionalProperties: false,
  description: 'Options for every service; each service may override them',
});

/** A bound on the targets listed for one service (discovery may expand a name to more). */
export const MAX_TARGETS = 31;

export const ServiceSchema = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      pattern: '^[a-z][a-z0-9-]{0,62}$',
      errorMessage: 'must be lower-case letters, digits and "-"',
      description: 'Unique; names the service in metrics, logs and the status report',
    }),
    basePath: Type.String({
      minLength: 1,
      format: 'canonical-path',
      pattern: '^/',
      errorMessage: 'must be a canonical path such as /api/products (no trailing slash)',
      description:
        'Unique; requests under it go to this service, with it stripped. Canonical and ' +
        'case-sensitive, without a trailing slash, clear of the paths the gateway serves itself',
    }),
    targets: Type.Array(Type.Union([ORIGIN, WeightedTargetSchema]), {
      minItems: 1,
      maxItems: MAX_TARGETS,
      errorMessage: `must list from 1 to ${MAX_TARGETS} targets`,
      description:
        'Origins of the replicas, each a URL or { url, weight } (weight 1 when a URL alone)',
    }),
    ...SERVICE_OPTIONS,
  },
  { additionalProperties: false },
);

export const WebSocketsSchema = section('Limits of the WebSocket tunnels of every service', {
  maxTunnels: integer(1, 1_000_000, 10_000, 'Open tunnels of this gateway; one more is a 503'),
  maxTunnelsPerUser: integer(
    1,
    1_000_000,
    100,
    'Open tunnels of one signed-in user (anonymous: of one client address); one more is a 429',
  ),
  idleTimeoutMs: integer(
    100,
    86_400_000,
    300_000,
    'A tunnel without a byte either way for this long is closed (code 1001); pings count',
  ),
});

/** Two years, the most the HSTS preload list asks for; longer pins a host to TLS for no gain. */
export const MAX_HSTS_SECONDS = 63_072_000;

export const TlsSchema = section('Answers on the TLS listener (TLS_CERT_FILE, TLS_KEY_FILE)', {
  hsts: section('Strict-Transport-Security, sent on answers over TLS only (RFC 6797)', {
    maxAgeSeconds: integer(
      0,
      MAX_HSTS_SECONDS,
      0,
      'How long browsers keep to HTTPS for this host; 0 = no header',
    ),
    includeSubDomains: flag(false, 'The policy covers every subdomain too'),
  }),
});

export const GatewayConfigSchema = Type.Object(
  {
    trustedProxyHops: integer(
      0,
      10,
      0,
      'Proxies in front of the gateway whose X-Forwarded-For entries are trusted: the client ' +
        "address is the entry this many hops from the right; 0 = the socket's address only",
    ),
    websockets: WebSocketsSchema,
    tls: TlsSchema,
    defaults: Type.Optional(ServiceOptionsSchema),
    services: Type.Array(ServiceSchema, {
      minItems: 1,
      errorMessage: 'must list at least one service',
      description: 'The routed services; adding one is a new entry here',
    }),
  },
  {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'API gateway routes',
    additionalProperties: false,
  },
);

/** The config file as written: every key with a default may be left out. */
export type GatewayConfigDocument = Static<typeof GatewayConfigSchema>;
export type ServiceDocument = Static<typeof ServiceSchema>;
export type ServiceOptionsDocument = Static<typeof ServiceOptionsSchema>;
export type AuthRuleDocument = Static<typeof AuthRuleSchema>;
export type RateLimitDocument = Static<typeof RateLimitSchema>;

/** Where the schema is published for editors, from the repository's root. */
export const SCHEMA_FILE = 'config/gateway.schema.json';

/** The text of SCHEMA_FILE: the schema as JSON, which is what the gateway validates with. */
export function schemaFileText(): string {
  return `${JSON.stringify(GatewayConfigSchema, null, 2)}\n`;
}
