import { Inject, Injectable } from '@nestjs/common';
import {
  AuthPolicy,
  CacheConfig,
  GatewayConfig,
  RateLimitConfig,
  ServiceConfig,
} from './gateway-config';
import { isSegmentPrefix } from './gateway-config.loader';
import { GATEWAY_CONFIG } from './routing.tokens';
import type { CanonicalPath } from './path-canonicalizer';

/** Where a canonical request path goes, and who may send it there. */
export interface RouteMatch {
  readonly service: ServiceConfig;
  /** The canonical path with the base path stripped; `/` when nothing is left. */
  readonly path: string;
  /** The auth policy for this method and stripped path (first matching rule, else the default). */
  readonly policy: AuthPolicy;
  /** Under the service's `/internal`: never forwarded. */
  readonly internal: boolean;
  /** The service's cache settings when this is a GET of a cached service, else `null`. */
  readonly cache: CacheConfig | null;
  /** The rate limits that count this request, or `null` when none does. */
  readonly rateLimits: readonly RateLimitConfig[] | null;
}

interface CompiledRule {
  readonly methods: ReadonlySet<string> | null;
  readonly path: string | null;
  readonly pathPrefix: string | null;
  readonly policy: AuthPolicy;
}

interface CompiledLimit {
  readonly methods: ReadonlySet<string> | null;
  readonly path: string | null;
  readonly pathPrefix: string | null;
  readonly limit: RateLimitConfig;
}

/**
 * Maps canonical paths to services: case-sensitive, on segment boundaries, longest base path first.
 * Rule paths and the `/internal` fence compare case-insensitively, because the Express services
 * behind the gateway route case-insensitively and must not be reachable through a case variant.
 */
@Injectable()
export class RouteTable {
  private readonly byLength: readonly ServiceConfig[];
  private readonly rules: readonly (readonly CompiledRule[])[];
  /** Per service; `null` when it has no rate limit, so such a request costs one check. */
  private readonly limits: readonly (readonly CompiledLimit[] | null)[];

  constructor(@Inject(GATEWAY_CONFIG) config: GatewayConfig) {
    this.byLength = [...config.services].sort((a, b) => b.basePath.length - a.basePath.length);
    this.rules = config.services.map((s) =>
      s.auth.rules.map((r) => ({
        methods: r.methods ? new Set(r.methods) : null,
        path: r.path?.toLowerCase() ?? null,
        pathPrefix: r.pathPrefix?.toLowerCase() ?? null,
        policy: r.policy,
      })),
    );
    this.limits = config.services.map((s) =>
      s.rateLimits.length === 0
        ? null
        : s.rateLimits.map((limit) => ({
            methods: limit.methods ? new Set(limit.methods) : null,
            path: limit.path?.toLowerCase() ?? null,
            pathPrefix: limit.pathPrefix?.toLowerCase() ?? null,
            limit,
          })),
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
      internal: isInternal(path),
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
    let lower: string | undefined;
    for (const rule of limits) {
      if (rule.methods && !rule.methods.has(method)) continue;
      if (rule.path !== null || rule.pathPrefix !== null) {
        lower ??= path.toLowerCase();
        if (rule.path !== null && lower !== rule.path) continue;
        if (rule.pathPrefix !== null && !isSegmentPrefix(rule.pathPrefix, lower)) continue;
      }
      (matched ??= []).push(rule.limit);
    }
    return matched;
  }

  /** First rule matching `method` and the stripped `path`, else the service's default policy. */
  policyFor(service: ServiceConfig, method: string, path: string): AuthPolicy {
    const rules = this.rules[service.index];
    if (rules.length === 0) return service.auth.default;
    let lower: string | undefined;
    for (const rule of rules) {
      if (rule.methods && !rule.methods.has(method)) continue;
      if (rule.path !== null || rule.pathPrefix !== null) {
        lower ??= path.toLowerCase();
        if (rule.path !== null && lower !== rule.path) continue;
        if (rule.pathPrefix !== null && !isSegmentPrefix(rule.pathPrefix, lower)) continue;
      }
      return rule.policy;
    }
    return service.auth.default;
  }
}

function isInternal(path: string): boolean {
  if (path.length < 9) return false;
  const c = path.charCodeAt(1);
  if (c !== 0x69 && c !== 0x49) return false;
  return (
    (path.length === 9 || path.charCodeAt(9) === 0x2f) &&
    path.slice(1, 9).toLowerCase() === 'internal'
  );
}
