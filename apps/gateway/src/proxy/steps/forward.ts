import type { ServiceConfig } from '../../routing/gateway-config';
import { ANSWERED, ProxiedRequest, ProxyStep, StepVerdict } from '../proxy-step';
import { BodyTooLargeError, hasRequestBody, readBody } from '../request-body';

/**
 * A declared body up to this size is read before the request goes upstream, as nginx's request
 * buffering does: head and body then leave in one write, without a stream piped per request.
 */
const SMALL_BODY_BYTES = 16 * 1024;

/**
 * The last step: hands the request to its exchange, which sends it upstream without a body, with
 * its bytes read first (a replay-safe request, whose bytes are kept for a retry, or a small
 * declared body), or streaming from the client.
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
    } else if (request.replaySafe || isSmall(req.headers['content-length'])) {
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

function isSmall(declared: string | undefined): boolean {
  return declared !== undefined && Number(declared) <= SMALL_BODY_BYTES;
}
