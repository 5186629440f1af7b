import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { ProxyModule } from '../proxy/proxy.module';
import { ConfigReloadTriggers } from './config-reload-triggers';
import { ConfigReloader } from './config-reloader';

/** Live config reload: on SIGHUP and when the config file changes. */
@Module({
  imports: [ProxyModule, MetricsModule],
  providers: [ConfigReloader, ConfigReloadTriggers],
  exports: [ConfigReloader],
})
export class ReloadModule {}
