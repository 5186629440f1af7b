import { METRICS_PATH, OPENAPI_JSON_PATH } from '@app/common';
import type { AuthPolicy } from './auth-policy';
import {
  AuthRuleConfig,
  CacheConfig,
  GatewayConfig,
  RateLimitConfig,
  ServiceConfig,
} from './gateway-config';
import { isSegmentPrefix } from './gateway-config.rules';
import type { CanonicalPath } from './path-canonicalizer';

/** Where a canonical request path goes, and who may send it there. */
export interface RouteMatch {
  readonly service: ServiceConfig;
  /** The canonical path with the base path stripped; `/` when nothing is left. */
  readonly path: string;
  /** The auth policy for this method and stripped path (first matching rule, else the default). */
  readonly policy: AuthPolicy;
  /** Under the service's `/internal`, its raw OpenAPI document (`/docs-json`) or `/metrics`: never forwarded. */
  readonly fenced: boolean;
  /** The service's cache settings when this is a GET of a cached service, else `null`. */
  readonly cache: CacheConfig | null;
  /** The rate limits that count this request, or `null` when none does. */
  readonly rateLimits: readonly RateLimitConfig[] | null;
}

/** The request match of an auth rule or a rate limit, its paths in lower case. */
interface CompiledMatch {
  readonly methods: ReadonlySet<string> | null;
  readonly path: string | null;
  readonly pathPrefix: string | null;
}

interface CompiledRule extends CompiledMatch {
  readonly policy: AuthPolicy;
}

interface CompiledLimit extends CompiledMatch {
  readonly limit: RateLimitConfig;
}

/** Stripped paths (lower case) that stay behind the gateway, with everything under them. */
const FENCED = ['/internal', OPENAPI_JSON_PATH, METRICS_PATH];

/**
 * Maps canonical paths to services: case-sensitive, on segment boundaries, longest base path first.
 * Rule paths and the fenced paths compare case-insensitively, because the Express services
 * behind the gateway route case-insensitively and must not be reachable through a case variant.
 * One per config generation (`ConfigGeneration.routes`).
 */
export class RouteTable {
  private readonly byLength: readonly ServiceConfig[];
  private readonly rules: readonly (readonly CompiledRule[])[];
  /** Per service; `null` when it has no rate limit, so such a request costs one check. */
  private readonly limits: readonly (readonly CompiledLimit[] | null)[];

  constructor(config: GatewayConfig) {
    this.byLength = [...config.services].sort((a, b) => b.basePath.length - a.basePath.length);
    this.rules = config.services.map((s) =>
      s.auth.rules.map((r) => ({ ...compileMatch(r), policy: r.policy })),
    );
    this.limits = config.services.map((s) =>
      s.rateLimits.length === 0
        ? null
        : s.rateLimits.map((limit) => ({ ...compileMatch(limit), limit })),
    );
  }

  /** The service whose base path is the longest segment prefix of `path`. */
  serviceFor(path: string): ServiceConfig | undefined {
    for (const service of this.byLength) {
      if (isSegmentPrefix(service.basePath, path)) return service;
    }
    return undefined;
  }

  resolve(canonical: CanonicalPath, method: string): RouteMatch | undefined {
    const service = this.serviceFor(canonical.path);
    if (service === undefined) return undefined;
    const path =
      canonical.path.length === service.basePath.length
        ? '/'
        : canonical.path.slice(service.basePath.length);
    return {
      service,
      path,
      policy: this.policyFor(service, method, path),
      fenced: isFenced(path),
      cache: method === 'GET' ? service.cache : null,
      rateLimits:
        this.limits[service.index] === null ? null : this.limitsFor(service, method, path),
    };
  }

  /** Every rate limit of the service matching `method` and the stripped `path`; `null` for none. */
  limitsFor(service: ServiceConfig, method: string, path: string): RateLimitConfig[] | null {
    const limits = this.limits[service.index];
    if (limits === null) return null;
    let matched: RateLimitConfig[] | null = null;
    const lower = path.toLowerCase();
    for (const rule of limits) {
      if (matches(rule, method, lower)) (matched ??= []).push(rule.limit);
    }
    return matched;
  }

  /** First rule matching `method` and the stripped `path`, else the service's default policy. */
  policyFor(service: ServiceConfig, method: string, path: string): AuthPolicy {
    const rules = this.rules[service.index];
    if (rules.length === 0) return service.auth.default;
    const lower = path.toLowerCase();
    for (const rule of rules) {
      if (matches(rule, method, lower)) return rule.policy;
    }
    return service.auth.default;
  }
}

function compileMatch(
  match: Pick<AuthRuleConfig, 'methods' | 'path' | 'pathPrefix'>,
): CompiledMatch {
  return {
    methods: match.methods ? new Set(match.methods) : null,
    path: match.path?.toLowerCase() ?? null,
    pathPrefix: match.pathPrefix?.toLowerCase() ?? null,
  };
}

/** Whether `rule` matches `method` and the stripped path, given here in lower case. */
function matches(rule: CompiledMatch, method: string, lower: string): boolean {
  if (rule.methods && !rule.methods.has(method)) return false;
  if (rule.path !== null && lower !== rule.path) return false;
  return rule.pathPrefix === null || isSegmentPrefix(rule.pathPrefix, lower);
}

/** Whether the stripped path is, or is under, a fenced path, in any letter case. */
function isFenced(path: string): boolean {
  for (const fence of FENCED) {
    const end = fence.length;
    if (path.length < end || (path.length > end && path.charCodeAt(end) !== 0x2f)) continue;
    // The second character first: most paths are told apart without a lower-case copy.
    if ((path.charCodeAt(1) | 0x20) !== fence.charCodeAt(1)) continue;
    if (path.slice(0, end).toLowerCase() === fence) return true;
  }
  return false;
}
