import { Injectable } from '@nestjs/common';
import { AuthService } from '../auth/auth.service';
import { ResponseCache } from '../cache/response-cache';
import { RateLimiter } from '../rate-limit/rate-limiter';
import type { ServiceConfig } from '../routing/gateway-config';
import type { ProxyStep } from './proxy-step';
import { Authorization } from './steps/authorization';
import { BodyLimit } from './steps/body-limit';
import { CacheLookup } from './steps/cache-lookup';
import { CorsPreflight } from './steps/cors-preflight';
import { Fence } from './steps/fence';
import { Forward } from './steps/forward';
import { RateLimit } from './steps/rate-limit';

/**
 * The steps of a routed request (4 to 10 of `RequestPipeline`), in order. A new step is a class
 * implementing `ProxyStep`, placed in `ROUTE_STEPS`.
 */
@Injectable()
export class RouteSteps {
  private readonly all: readonly ProxyStep[];

  constructor(auth: AuthService, limiter: RateLimiter, cache: ResponseCache) {
    const ROUTE_STEPS: readonly ProxyStep[] = [
      new Fence(),
      new CorsPreflight(),
      new BodyLimit(),
      new Authorization(auth),
      new RateLimit(limiter),
      new CacheLookup(cache),
      new Forward(),
    ];
    this.all = ROUTE_STEPS;
  }

  /** The steps that can act on a request of `service`, in order. */
  forService(service: ServiceConfig): readonly ProxyStep[] {
    return this.all.filter((step) => step.appliesTo(service));
  }
}
