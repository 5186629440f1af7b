import type { ServiceConfig } from '../../routing/gateway-config';
import { ANSWERED, ProxiedRequest, ProxyStep, StepVerdict } from '../proxy-step';
import { BodyTooLargeError, hasRequestBody, readBody } from '../request-body';

/**
 * The last step: hands the request to its exchange, which sends it upstream without a body, with
 * its bytes read first and kept for replay (a replay-safe request), or streaming from the client.
 */
export class Forward implements ProxyStep {
  appliesTo(_service: ServiceConfig): boolean {
    return true;
  }

  run(request: ProxiedRequest): StepVerdict {
    const { req, exchange } = request;
    const limit = request.route.service.bodyLimitBytes;
    if (!hasRequestBody(req)) {
      exchange.send(null);
    } else if (request.replaySafe) {
      void readBody(req, limit)
        .then(
          (body) => exchange.send(body),
          (err: unknown) => {
            if (err instanceof BodyTooLargeError) {
              exchange.fail(413, err.message, { connection: 'close' });
            } else {
              // The client aborted its upload; the exchange logs it when the response closes.
              request.res.destroy();
            }
          },
        )
        .catch((err: unknown) => exchange.crash(err));
    } else {
      exchange.stream(req.headers['content-length'] === undefined ? limit : -1);
    }
    return ANSWERED;
  }
}
