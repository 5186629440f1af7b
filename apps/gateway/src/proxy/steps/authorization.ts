import { pushIdentityHeaders } from '../forwarded-headers';
import type { AuthOutcome, AuthService } from '../../auth/auth.service';
import { authorizationOf } from '../../auth/bearer-token';
import type { ServiceConfig } from '../../routing/gateway-config';
import { ANSWERED, NEXT, ProxiedRequest, ProxyStep, StepVerdict } from '../proxy-step';

/**
 * The route's auth policy: 401/403 with the challenge, or the caller's identity headers added to
 * the upstream request. Synchronous for public routes, refusals decided from the header alone and
 * tokens in the local cache; a token-store lookup otherwise.
 */
export class Authorization implements ProxyStep {
  constructor(private readonly auth: AuthService) {}

  appliesTo(_service: ServiceConfig): boolean {
    // Even a service public by default may have rules that are not.
    return true;
  }

  run(request: ProxiedRequest): StepVerdict | Promise<StepVerdict> {
    const decision = this.auth.authorize(request.route.policy, authorizationOf(request.req));
    if (decision instanceof Promise) return decision.then((outcome) => admit(request, outcome));
    return admit(request, decision);
  }
}

function admit(request: ProxiedRequest, outcome: AuthOutcome): StepVerdict {
  if (!outcome.ok) {
    const challenge = outcome.challenge ? { 'www-authenticate': outcome.challenge } : undefined;
    request.exchange.fail(outcome.status, outcome.message, challenge);
    return ANSWERED;
  }
  const principal = outcome.principal;
  if (principal !== undefined) {
    request.principal = principal;
    pushIdentityHeaders(request.upstreamHeaders, principal);
  }
  return NEXT;
}
