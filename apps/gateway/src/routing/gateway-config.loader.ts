import { ConfigurationError } from '@app/common';
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { AUTHENTICATED, AuthPolicy, readAuthPolicy } from './auth-policy';
import { at, ConfigFields } from './config-fields';
import {
  ActiveHealthConfig,
  AuthConfig,
  AuthRuleConfig,
  CacheConfig,
  CorsConfig,
  DEFAULT_SERVICE_OPTIONS,
  DiscoveryConfig,
  GatewayConfig,
  PassiveHealthConfig,
  RateLimitConfig,
  RESERVED_PATHS,
  RetryConfig,
  ServiceConfig,
  ServiceOptions,
  TimeoutsConfig,
} from './gateway-config';
import { PathCanonicalizer } from './path-canonicalizer';

const OPTION_KEYS = [
  'timeouts',
  'retry',
  'bodyLimitBytes',
  'connectionsPerTarget',
  'passiveHealth',
  'activeHealth',
  'discovery',
  'cors',
  'auth',
  'cache',
  'rateLimits',
  'idempotencyKeys',
] as const;
const SERVICE_KEYS = ['name', 'basePath', 'targets', ...OPTION_KEYS];
/** A bound on the targets listed for one service (discovery may expand a name to more). */
const MAX_TARGETS = 31;
const SERVICE_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const METHOD = /^[A-Z]{1,20}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;
const DEFAULT_CORS: Omit<CorsConfig, 'origins'> = {
  credentials: false,
  methods: ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'],
  allowHeaders: ['authorization', 'content-type', 'idempotency-key', 'x-request-id'],
  exposeHeaders: ['x-request-id'],
  maxAgeSeconds: 600,
};

/** Thrown when the gateway config file is missing, unreadable or invalid; the message names every bad field. */
export class GatewayConfigError extends ConfigurationError {
  override readonly name = 'GatewayConfigError';
}

/** Reads and validates the gateway config (YAML, or JSON for `.json` files). */
export function loadGatewayConfig(file: string): GatewayConfig {
  const source = resolve(file);
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (err) {
    throw new GatewayConfigError(
      `gateway config ${source} cannot be read: ${(err as Error).message}`,
    );
  }
  let document: unknown;
  try {
    document = extname(source) === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new GatewayConfigError(
      `gateway config ${source} is not valid ${extname(source) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
    );
  }
  return parseGatewayConfig(document, source);
}

/** Validates an already parsed config document. */
export function parseGatewayConfig(document: unknown, source = '(inline)'): GatewayConfig {
  const fields = new ConfigFields();
  const paths = new PathCanonicalizer();
  const root = fields.object(document, '', ['services', 'defaults', 'trustedProxyHops']);
  const defaultsEntry =
    root?.defaults === undefined
      ? undefined
      : fields.object(root.defaults, 'defaults', OPTION_KEYS);
  const defaults = defaultsEntry
    ? parseOptions(fields, paths, defaultsEntry, 'defaults', DEFAULT_SERVICE_OPTIONS)
    : DEFAULT_SERVICE_OPTIONS;

  const services: ServiceConfig[] = [];
  const list = root ? fields.array(root.services, 'services') : undefined;
  if (list && list.length === 0) fields.report('services', 'must list at least one service');
  const byBasePath = new Map<string, number>();
  const byName = new Map<string, number>();
  list?.forEach((raw, index) => {
    const path = `services[${index}]`;
    const entry = fields.object(raw, path, SERVICE_KEYS);
    if (!entry) return;
    const name = fields.string(entry.name, at(path, 'name'));
    if (name !== undefined && !SERVICE_NAME.test(name)) {
      fields.report(at(path, 'name'), 'must be lower-case letters, digits and "-"');
    } else if (name !== undefined && byName.has(name)) {
      fields.report(at(path, 'name'), `"${name}" is already used by services[${byName.get(name)}]`);
    } else if (name !== undefined) {
      byName.set(name, index);
    }
    const basePath = parseBasePath(fields, paths, entry.basePath, at(path, 'basePath'));
    if (basePath !== undefined) {
      const other = byBasePath.get(basePath);
      if (other !== undefined) {
        fields.report(at(path, 'basePath'), `${basePath} is already used by services[${other}]`);
      } else {
        byBasePath.set(basePath, index);
      }
    }
    const targets = parseTargets(fields, entry.targets, at(path, 'targets'));
    const options = parseOptions(fields, paths, entry, path, defaults);
    if (name !== undefined && basePath !== undefined && targets !== undefined) {
      services.push({ ...options, index, name, basePath, targets });
    }
  });

  const trustedProxyHops = fields.integer(root?.trustedProxyHops, 'trustedProxyHops', 0, 10, 0);
  if (fields.problems.length > 0) {
    throw new GatewayConfigError(`gateway config ${source}: ${fields.problems.join('; ')}`);
  }
  return { source, services, trustedProxyHops };
}

function parseBasePath(
  fields: ConfigFields,
  paths: PathCanonicalizer,
  value: unknown,
  path: string,
): string | undefined {
  const text = fields.string(value, path);
  if (text === undefined) return undefined;
  const canonical = paths.canonicalize(text);
  if (!canonical.ok || canonical.path !== text || canonical.query !== '') {
    fields.report(path, 'must be a canonical path such as /api/products (no trailing slash)');
    return undefined;
  }
  if (text === '/') {
    fields.report(path, 'must not be "/" (the gateway serves its own endpoints)');
    return undefined;
  }
  const clash = RESERVED_PATHS.find((r) => isSegmentPrefix(r, text) || isSegmentPrefix(text, r));
  if (clash) {
    fields.report(path, `overlaps ${clash}, which the gateway serves itself`);
    return undefined;
  }
  return text;
}

function parseTargets(fields: ConfigFields, value: unknown, path: string): string[] | undefined {
  const seen = new Set<string>();
  const targets = fields.strings(value, path, (text) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return 'not an http(s) URL';
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'not an http(s) URL';
    if (url.username || url.password) return 'must not carry credentials';
    if (url.pathname !== '/' || url.search || url.hash) {
      return 'must be an origin such as http://127.0.0.1:3001 (no path or query)';
    }
    if (seen.has(url.origin)) return `${url.origin} is listed twice`;
    seen.add(url.origin);
    return undefined;
  });
  if (Array.isArray(value) && (value.length === 0 || value.length > MAX_TARGETS)) {
    fields.report(path, `must list from 1 to ${MAX_TARGETS} targets`);
    return undefined;
  }
  return targets?.map((t) => new URL(t).origin);
}

function parseOptions(
  fields: ConfigFields,
  paths: PathCanonicalizer,
  entry: Record<string, unknown>,
  path: string,
  base: ServiceOptions,
): ServiceOptions {
  return {
    timeouts: parseTimeouts(fields, entry.timeouts, at(path, 'timeouts'), base.timeouts),
    retry: parseRetry(fields, entry.retry, at(path, 'retry'), base.retry),
    bodyLimitBytes: fields.integer(
      entry.bodyLimitBytes,
      at(path, 'bodyLimitBytes'),
      0,
      1 << 30,
      base.bodyLimitBytes,
    ),
    connectionsPerTarget: fields.integer(
      entry.connectionsPerTarget,
      at(path, 'connectionsPerTarget'),
      1,
      10_000,
      base.connectionsPerTarget,
    ),
    passiveHealth: parsePassiveHealth(
      fields,
      entry.passiveHealth,
      at(path, 'passiveHealth'),
      base.passiveHealth,
    ),
    activeHealth: parseActiveHealth(
      fields,
      paths,
      entry.activeHealth,
      at(path, 'activeHealth'),
      base.activeHealth,
    ),
    discovery: parseDiscovery(fields, entry.discovery, at(path, 'discovery'), base.discovery),
    cors: entry.cors === undefined ? base.cors : parseCors(fields, entry.cors, at(path, 'cors')),
    auth:
      entry.auth === undefined ? base.auth : parseAuth(fields, paths, entry.auth, at(path, 'auth')),
    cache:
      entry.cache === undefined ? base.cache : parseCache(fields, entry.cache, at(path, 'cache')),
    rateLimits:
      entry.rateLimits === undefined
        ? base.rateLimits
        : parseRateLimits(fields, paths, entry.rateLimits, at(path, 'rateLimits')),
    idempotencyKeys: fields.boolean(
      entry.idempotencyKeys,
      at(path, 'idempotencyKeys'),
      base.idempotencyKeys,
    ),
  };
}

function parseTimeouts(
  fields: ConfigFields,
  value: unknown,
  path: string,
  base: TimeoutsConfig,
): TimeoutsConfig {
  const keys = ['connectMs', 'perTryMs', 'idleMs'] as const;
  return fields.section(value, path, keys, base, (section) => ({
    connectMs: section.integer('connectMs', 1, 60_000),
    perTryMs: section.integer('perTryMs', 1, 600_000),
    idleMs: section.integer('idleMs', 1, 3_600_000),
  }));
}

function parseRetry(
  fields: ConfigFields,
  value: unknown,
  path: string,
  base: RetryConfig,
): RetryConfig {
  const keys = ['attempts', 'backoffBaseMs', 'backoffMaxMs'] as const;
  return fields.section(value, path, keys, base, (section) =>
    section.ordered(
      {
        attempts: section.integer('attempts', 1, 10),
        backoffBaseMs: section.integer('backoffBaseMs', 0, 60_000),
        backoffMaxMs: section.integer('backoffMaxMs', 0, 300_000),
      },
      'backoffBaseMs',
      'backoffMaxMs',
    ),
  );
}

function parsePassiveHealth(
  fields: ConfigFields,
  value: unknown,
  path: string,
  base: PassiveHealthConfig,
): PassiveHealthConfig {
  const keys = ['failures', 'cooldownMs', 'maxCooldownMs'] as const;
  return fields.section(value, path, keys, base, (section) =>
    section.ordered(
      {
        failures: section.integer('failures', 1, 1_000),
        cooldownMs: section.integer('cooldownMs', 1, 3_600_000),
        maxCooldownMs: section.integer('maxCooldownMs', 1, 3_600_000),
      },
      'cooldownMs',
      'maxCooldownMs',
    ),
  );
}

function parseActiveHealth(
  fields: ConfigFields,
  paths: PathCanonicalizer,
  value: unknown,
  path: string,
  base: ActiveHealthConfig,
): ActiveHealthConfig {
  const keys = ['enabled', 'path', 'intervalMs', 'timeoutMs'] as const;
  return fields.section(value, path, keys, base, (section) => {
    let checkPath = base.path;
    if (section.entry.path !== undefined) {
      const text = fields.string(section.entry.path, at(path, 'path'));
      const canonical = text === undefined ? undefined : paths.canonicalize(text);
      if (canonical && canonical.ok && canonical.path === text) checkPath = text;
      else if (text !== undefined) fields.report(at(path, 'path'), 'must be a canonical path');
    }
    return {
      enabled: section.boolean('enabled'),
      path: checkPath,
      intervalMs: section.integer('intervalMs', 50, 3_600_000),
      timeoutMs: section.integer('timeoutMs', 1, 60_000),
    };
  });
}

function parseDiscovery(
  fields: ConfigFields,
  value: unknown,
  path: string,
  base: DiscoveryConfig,
): DiscoveryConfig {
  return fields.section(value, path, ['enabled', 'intervalMs'], base, (section) => ({
    enabled: section.boolean('enabled'),
    intervalMs: section.integer('intervalMs', 50, 3_600_000),
  }));
}

function parseCors(fields: ConfigFields, value: unknown, path: string): CorsConfig | null {
  if (value === null || value === false) return null;
  const entry = fields.object(value, path, [
    'origins',
    'credentials',
    'methods',
    'allowHeaders',
    'exposeHeaders',
    'maxAgeSeconds',
  ]);
  if (!entry) return null;
  const credentials = fields.boolean(
    entry.credentials,
    at(path, 'credentials'),
    DEFAULT_CORS.credentials,
  );
  const origins =
    fields.strings(entry.origins, at(path, 'origins'), (origin) => {
      if (origin === '*') {
        return credentials ? 'must not be "*" when credentials are allowed' : undefined;
      }
      if (origin === 'null') return 'the "null" origin is never allowed';
      try {
        const url = new URL(origin);
        if ((url.protocol === 'http:' || url.protocol === 'https:') && url.origin === origin) {
          return undefined;
        }
      } catch {
        // reported below
      }
      return 'must be an exact origin such as https://shop.example.com';
    }) ?? [];
  if (origins.includes('*') && origins.length > 1) {
    fields.report(at(path, 'origins'), '"*" must be the only entry');
  }
  const headers = (key: 'allowHeaders' | 'exposeHeaders') =>
    entry[key] === undefined
      ? DEFAULT_CORS[key]
      : (fields.strings(entry[key], at(path, key), (h) =>
          HEADER_NAME.test(h) ? undefined : 'not a header name',
        ) ?? []);
  return {
    origins,
    credentials,
    methods:
      entry.methods === undefined
        ? DEFAULT_CORS.methods
        : (fields.strings(entry.methods, at(path, 'methods'), checkMethod) ?? []),
    allowHeaders: headers('allowHeaders'),
    exposeHeaders: headers('exposeHeaders'),
    maxAgeSeconds: fields.integer(
      entry.maxAgeSeconds,
      at(path, 'maxAgeSeconds'),
      0,
      86_400,
      DEFAULT_CORS.maxAgeSeconds,
    ),
  };
}

function parseAuth(
  fields: ConfigFields,
  paths: PathCanonicalizer,
  value: unknown,
  path: string,
): AuthConfig {
  const entry = fields.object(value, path, ['default', 'rules']);
  if (!entry) return DEFAULT_SERVICE_OPTIONS.auth;
  const fallback =
    entry.default === undefined
      ? AUTHENTICATED
      : (parsePolicy(fields, entry.default, at(path, 'default')) ?? AUTHENTICATED);
  const rules: AuthRuleConfig[] = [];
  const list = entry.rules === undefined ? [] : fields.array(entry.rules, at(path, 'rules'));
  list?.forEach((raw, i) => {
    const rulePath = `${at(path, 'rules')}[${i}]`;
    const rule = fields.object(raw, rulePath, ['methods', 'path', 'pathPrefix', 'policy']);
    if (!rule) return;
    const match = parseRequestMatch(fields, paths, rule, rulePath);
    if (rule.policy === undefined) fields.report(at(rulePath, 'policy'), 'is required');
    const policy =
      rule.policy === undefined
        ? undefined
        : parsePolicy(fields, rule.policy, at(rulePath, 'policy'));
    if (policy) rules.push({ ...match, policy });
  });
  return { default: fallback, rules };
}

function parseCache(fields: ConfigFields, value: unknown, path: string): CacheConfig | null {
  if (value === null || value === false) return null;
  const entry = fields.object(value, path, ['ttlSeconds', 'maxBodyBytes']);
  if (!entry) return null;
  if (entry.ttlSeconds === undefined) fields.report(at(path, 'ttlSeconds'), 'is required');
  return {
    ttlSeconds: fields.integer(entry.ttlSeconds, at(path, 'ttlSeconds'), 1, 86_400, 1),
    maxBodyBytes: fields.integer(
      entry.maxBodyBytes,
      at(path, 'maxBodyBytes'),
      1,
      16_777_216,
      262_144,
    ),
  };
}

function parseRateLimits(
  fields: ConfigFields,
  paths: PathCanonicalizer,
  value: unknown,
  path: string,
): RateLimitConfig[] {
  const limits: RateLimitConfig[] = [];
  fields.array(value, path)?.forEach((raw, i) => {
    const limitPath = `${path}[${i}]`;
    const entry = fields.object(raw, limitPath, [
      'methods',
      'path',
      'pathPrefix',
      'limit',
      'windowSeconds',
      'by',
      'onStoreDown',
    ]);
    if (!entry) return;
    const match = parseRequestMatch(fields, paths, entry, limitPath);
    for (const key of ['limit', 'windowSeconds'] as const) {
      if (entry[key] === undefined) fields.report(at(limitPath, key), 'is required');
    }
    if (entry.by !== undefined && entry.by !== 'ip' && entry.by !== 'user') {
      fields.report(at(limitPath, 'by'), 'must be ip or user');
    }
    if (
      entry.onStoreDown !== undefined &&
      entry.onStoreDown !== 'allow' &&
      entry.onStoreDown !== 'deny'
    ) {
      fields.report(at(limitPath, 'onStoreDown'), 'must be allow or deny');
    }
    limits.push({
      ...match,
      limit: fields.integer(entry.limit, at(limitPath, 'limit'), 1, 1_000_000_000, 1),
      windowSeconds: fields.integer(
        entry.windowSeconds,
        at(limitPath, 'windowSeconds'),
        1,
        86_400,
        1,
      ),
      by: entry.by === 'user' ? 'user' : 'ip',
      onStoreDown: entry.onStoreDown === 'deny' ? 'deny' : 'allow',
    });
  });
  return limits;
}

/** Which requests an auth rule or a rate limit applies to. */
type RequestMatch = Pick<AuthRuleConfig, 'methods' | 'path' | 'pathPrefix'>;

/** The `methods` and `path` or `pathPrefix` of an auth rule or a rate limit. */
function parseRequestMatch(
  fields: ConfigFields,
  paths: PathCanonicalizer,
  entry: Record<string, unknown>,
  path: string,
): RequestMatch {
  if (entry.path !== undefined && entry.pathPrefix !== undefined) {
    fields.report(path, 'use either path or pathPrefix, not both');
  }
  return {
    methods:
      entry.methods === undefined
        ? null
        : (fields.strings(entry.methods, at(path, 'methods'), checkMethod) ?? null),
    path: parseRulePath(fields, paths, entry.path, at(path, 'path')),
    pathPrefix: parseRulePath(fields, paths, entry.pathPrefix, at(path, 'pathPrefix')),
  };
}

/** A rule's `path` or `pathPrefix`: canonical, after the base path; `null` when absent or invalid. */
function parseRulePath(
  fields: ConfigFields,
  paths: PathCanonicalizer,
  value: unknown,
  path: string,
): string | null {
  if (value === undefined) return null;
  const text = fields.string(value, path);
  if (text === undefined) return null;
  const canonical = paths.canonicalize(text);
  if (!canonical.ok || canonical.path !== text || canonical.query !== '') {
    fields.report(path, 'must be a canonical path starting with "/"');
    return null;
  }
  return text;
}

function parsePolicy(fields: ConfigFields, value: unknown, path: string): AuthPolicy | undefined {
  const policy = typeof value === 'string' ? readAuthPolicy(value) : undefined;
  if (policy) return policy;
  fields.report(path, 'must be public, authenticated or role:<name>');
  return undefined;
}

function checkMethod(method: string): string | undefined {
  return METHOD.test(method) ? undefined : 'must be an upper-case HTTP method such as GET';
}

/** `/a` is a segment prefix of `/a` and `/a/b`, not of `/ab`. */
export function isSegmentPrefix(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  return (
    path.startsWith(prefix) &&
    (path.length === prefix.length || path.charCodeAt(prefix.length) === 0x2f)
  );
}
