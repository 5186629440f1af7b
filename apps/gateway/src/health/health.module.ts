import { DrainingHealthIndicator } from '@app/common';
import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { AuthModule } from '../auth/auth.module';
import { ProxyModule } from '../proxy/proxy.module';
import { ReloadModule } from '../reload/reload.module';
import { HealthController } from './health.controller';
import { RoutesHealthIndicator } from './routes.health';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), ProxyModule, ReloadModule, AuthModule],
  controllers: [HealthController],
  providers: [DrainingHealthIndicator, RoutesHealthIndicator],
})
export class HealthModule {}
