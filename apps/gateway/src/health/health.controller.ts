import { DrainingHealthIndicator } from '@app/common';
import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { TokenStoreHealthIndicator } from '../auth/token-store/token-store.health';
import { RoutesHealthIndicator } from './routes.health';

/**
 * `/health/live` while the process runs; `/health/ready` while the config is loaded and not draining,
 * with the upstreams and the token store reported (neither takes the gateway out: see each indicator).
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly draining: DrainingHealthIndicator,
    private readonly routes: RoutesHealthIndicator,
    private readonly tokenStore: TokenStoreHealthIndicator,
  ) {}

  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.draining.check(),
      () => this.routes.configLoaded(),
      () => this.routes.upstreamTargets(),
      () => this.tokenStore.check(),
    ]);
  }
}
