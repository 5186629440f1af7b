import type { ServiceConfig } from '../../routing/gateway-config';
import { isPreflight } from '../cors-policy';
import { ANSWERED, NEXT, ProxiedRequest, ProxyStep, StepVerdict } from '../proxy-step';

/** The gateway answers CORS preflights itself (204), from the service's CORS rules. */
export class CorsPreflight implements ProxyStep {
  appliesTo(_service: ServiceConfig): boolean {
    // Without CORS rules a preflight still gets its 204 (with `Vary: Origin` and no grant).
    return true;
  }

  run(request: ProxiedRequest): StepVerdict {
    const { req, res } = request;
    const headers = req.headers;
    if (!isPreflight(req.method, headers)) return NEXT;
    const answer = request.upstreams.cors?.preflightHeaders(headers.origin) ?? { vary: 'Origin' };
    res.writeHead(204, { ...answer, 'x-request-id': request.requestId });
    res.end();
    request.exchange.answered(204);
    return ANSWERED;
  }
}
