import type { CacheResult, ResponseCache } from '../../cache/response-cache';
import type { ServiceConfig } from '../../routing/gateway-config';
import { ANSWERED, NEXT, ProxiedRequest, ProxyStep, StepVerdict } from '../proxy-step';
import { hasRequestBody } from '../request-body';

/**
 * The service's response cache: a cacheable GET is answered from it or forwarded with a tap that
 * captures the answer; a write (any method but GET, HEAD and OPTIONS) is forwarded with a tap that
 * invalidates the service's entries when it succeeds.
 */
export class CacheLookup implements ProxyStep {
  constructor(private readonly cache: ResponseCache) {}

  appliesTo(service: ServiceConfig): boolean {
    return service.cache !== null;
  }

  run(request: ProxiedRequest): StepVerdict | Promise<StepVerdict> {
    const { req, route, exchange } = request;
    if (route.cache === null) {
      const method = req.method;
      if (method !== 'HEAD' && method !== 'OPTIONS') {
        exchange.observe(this.cache.invalidation(route.service.name));
      }
      return NEXT;
    }
    // A GET with a body is not something the cache can key.
    if (hasRequestBody(req)) return NEXT;
    return this.cache
      .lookup(route, route.cache, route.path + request.canonical.query, req, request.principal)
      .then((result) => this.answer(request, result));
  }

  private answer(request: ProxiedRequest, result: CacheResult): StepVerdict {
    if (result.hit === null) {
      request.exchange.observe(result.tap);
      return NEXT;
    }
    request.exchange.respond(result.hit.status, this.cache.hitHeaders(result.hit), result.hit.body);
    return ANSWERED;
  }
}
