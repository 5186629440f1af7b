import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { ShutdownState } from '../shutdown';

/** Down from the moment SIGTERM arrives, so load balancers stop sending before the server closes. */
@Injectable()
export class DrainingHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly shutdown: ShutdownState,
  ) {}

  check() {
    const session = this.indicators.check('lifecycle');
    return this.shutdown.isDraining
      ? session.down({ state: 'draining' })
      : session.up({ state: 'serving' });
  }
}
