import type { ServiceConfig } from '../../routing/gateway-config';
import { ANSWERED, NEXT, ProxiedRequest, ProxyStep, StepVerdict } from '../proxy-step';

/** A service's `/internal` paths, `/metrics` and raw OpenAPI document stay behind the gateway: 404, as Express would. */
export class Fence implements ProxyStep {
  appliesTo(_service: ServiceConfig): boolean {
    return true;
  }

  run(request: ProxiedRequest): StepVerdict {
    if (!request.route.fenced) return NEXT;
    request.exchange.fail(404, `Cannot ${request.req.method ?? 'GET'} ${request.canonical.path}`);
    return ANSWERED;
  }
}
