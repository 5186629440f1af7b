import { ServiceUnavailableException } from '@nestjs/common';

/**
 * A 503 the client may retry after `retryAfterSeconds`: the service is alive but cannot take the
 * request now (overloaded, or a dependency such as its database is failing). The error filter
 * sends the wait as `Retry-After`.
 */
export class RetryLaterException extends ServiceUnavailableException {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}
