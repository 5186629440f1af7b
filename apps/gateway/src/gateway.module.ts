import { CommonHttpModule, serverConfig } from '@app/common';
import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AdminModule } from './admin/admin.module';
import { AuthModule } from './auth/auth.module';
import { DiscoveryModule } from './discovery/discovery.module';
import { gatewaySettings } from './routing/gateway-env';
import { HealthModule } from './health/health.module';
import { MetricsModule } from './metrics/metrics.module';
import { OpenApiModule } from './openapi/openapi.module';
import { ProxyModule } from './proxy/proxy.module';
import { ReloadModule } from './reload/reload.module';
import { RoutingModule } from './routing/routing.module';

@Module({
  imports: [
    ConfigModule.forRoot({
      isGlobal: true,
      ignoreEnvFile: true,
      load: [serverConfig(8080, { tls: true }), gatewaySettings],
    }),
    CommonHttpModule.forRoot({ service: 'gateway' }),
    RoutingModule,
    MetricsModule,
    AuthModule,
    ProxyModule,
    DiscoveryModule,
    ReloadModule,
    HealthModule,
    OpenApiModule,
    AdminModule,
  ],
})
export class GatewayModule {}
