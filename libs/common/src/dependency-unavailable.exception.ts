import { ServiceUnavailableException } from '@nestjs/common';

/**
 * A 503 because a dependency of this service (`dependency`: a peer service, its database) cannot
 * serve now. The error filter names it in `X-Dependency-Unavailable`, which tells the gateway that
 * this replica answered and is alive.
 */
export class DependencyUnavailableException extends ServiceUnavailableException {
  constructor(
    readonly dependency: string,
    message = `${dependency} unavailable`,
  ) {
    super(message);
  }
}
