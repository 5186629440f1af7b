import { Controller, Get } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { DrainingHealthIndicator } from './draining.health';

/**
 * `/health/live` answers while the process runs; `/health/ready` also pings the database.
 * Probes for the gateway and the orchestrator, not client API: left out of the OpenAPI document.
 */
@ApiExcludeController()
@Controller('health')
export class ServiceHealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly draining: DrainingHealthIndicator,
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
      () => this.database.pingCheck('database', { timeout: 1_500 }),
    ]);
  }
}
