import { DrainingHealthIndicator } from '@app/common';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TerminusModule } from '@nestjs/terminus';
import { ServiceHealthController } from './service-health.controller';
import { StorageHealthIndicator } from './storage.health';
import { StorageProbe } from './storage-probe.entity';

/**
 * Liveness and readiness for a database-backed service, polled by the gateway and Swarm; the service
 * lists `CreateStorageProbe` among its migrations.
 */
@Module({
  imports: [TerminusModule.forRoot({ logger: false }), TypeOrmModule.forFeature([StorageProbe])],
  controllers: [ServiceHealthController],
  providers: [DrainingHealthIndicator, StorageHealthIndicator],
})
export class ServiceHealthModule {}
