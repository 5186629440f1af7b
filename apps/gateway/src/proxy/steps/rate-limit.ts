import type { RateLimiter, RateLimitVerdict } from '../../rate-limit/rate-limiter';
import type { ServiceConfig } from '../../routing/gateway-config';
import { ANSWERED, NEXT, ProxiedRequest, ProxyStep, StepVerdict } from '../proxy-step';

/**
 * Counts the request against every rate limit of its route, before the cache is asked: 429 (or
 * 503 when the store is down and a limit says `deny`), else on with the `RateLimit-*` headers.
 */
export class RateLimit implements ProxyStep {
  constructor(private readonly limiter: RateLimiter) {}

  appliesTo(service: ServiceConfig): boolean {
    return service.rateLimits.length > 0;
  }

  run(request: ProxiedRequest): StepVerdict | Promise<StepVerdict> {
    const limits = request.route.rateLimits;
    if (limits === null) return NEXT;
    return this.limiter
      .check(request.route.service.name, limits, request.req, request.principal)
      .then((verdict) => apply(request, verdict));
  }
}

function apply(request: ProxiedRequest, verdict: RateLimitVerdict): StepVerdict {
  if (verdict.headers !== null) request.exchange.addHeaders(verdict.headers);
  if (verdict.allowed) return NEXT;
  request.exchange.fail(verdict.status, verdict.message);
  return ANSWERED;
}
