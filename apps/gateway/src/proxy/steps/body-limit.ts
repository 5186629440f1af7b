import type { ServiceConfig } from '../../routing/gateway-config';
import { ANSWERED, NEXT, ProxiedRequest, ProxyStep, StepVerdict } from '../proxy-step';

/**
 * A declared `Content-Length` over the service's `bodyLimitBytes` gets 413 before anything is
 * read; an undeclared (chunked) body is counted as it streams (see the forward step).
 */
export class BodyLimit implements ProxyStep {
  appliesTo(_service: ServiceConfig): boolean {
    return true;
  }

  run(request: ProxiedRequest): StepVerdict {
    const declared = request.req.headers['content-length'];
    const limit = request.route.service.bodyLimitBytes;
    if (declared === undefined || !(Number(declared) > limit)) return NEXT;
    request.exchange.fail(413, `request body exceeds ${limit} bytes`, { connection: 'close' });
    return ANSWERED;
  }
}
