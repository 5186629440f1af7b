import { Controller, Get } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { DrainingHealthIndicator } from '@app/common';
import { StorageHealthIndicator } from './storage.health';

/**
 * `/health/live` answers while the process runs; `/health/ready` also pings the database and
 * checks that it takes writes (503 while it cannot: disk full, read-only, connection lost).
 * Probes for the gateway and the orchestrator, not client API: left out of the OpenAPI document.
 */
@ApiExcludeController()
@Controller('health')
export class ServiceHealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly draining: DrainingHealthIndicator,
    private readonly storage: StorageHealthIndicator,
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
      () => this.storage.check(),
    ]);
  }
}
