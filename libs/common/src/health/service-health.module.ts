import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DrainingHealthIndicator } from './draining.health';
import { ServiceHealthController } from './service-health.controller';

/** Liveness and readiness for a database-backed service, polled by the gateway and Swarm. */
@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [ServiceHealthController],
  providers: [DrainingHealthIndicator],
})
export class ServiceHealthModule {}
