import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { ResponseCacheModule } from '../cache/response-cache.module';
import { MetricsModule } from '../metrics/metrics.module';
import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { RoutingModule } from '../routing/routing.module';
import { AccessLog } from './access-log';
import { GenerationBuilder } from './generation-builder';
import { LiveConfig } from './live-config';
import { RequestPipeline } from './request-pipeline';
import { ProxyMount } from './proxy-mount';
import { PROXY_RANDOM } from './proxy.tokens';
import { RouteSteps } from './route-steps';
import { UpstreamHealth } from './upstream-health';
import { UpstreamRegistry } from './upstream-registry';
import { TunnelMetrics } from './websocket/tunnel-metrics';
import { TunnelRegistry } from './websocket/tunnel-registry';
import { WebSocketMount } from './websocket/websocket-mount';
import { WebSocketUpgrade } from './websocket/websocket-upgrade';

/** The proxy path: mounted ahead of Express, built from the providers below; `LiveConfig` holds the config generation it runs on; WebSocket upgrades beside it. */
@Module({
  imports: [RoutingModule, MetricsModule, AuthModule, RateLimitModule, ResponseCacheModule],
  providers: [
    { provide: PROXY_RANDOM, useValue: Math.random },
    UpstreamRegistry,
    RouteSteps,
    GenerationBuilder,
    LiveConfig,
    UpstreamHealth,
    AccessLog,
    RequestPipeline,
    ProxyMount,
    TunnelMetrics,
    TunnelRegistry,
    WebSocketUpgrade,
    WebSocketMount,
  ],
  exports: [UpstreamRegistry, UpstreamHealth, LiveConfig, TunnelRegistry],
})
export class ProxyModule {}
