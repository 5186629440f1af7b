import { Module } from '@nestjs/common';
import { ConfigModule, ConfigType } from '@nestjs/config';
import { authConfig } from '../auth/auth.config';
import { AUTH_REDIS } from '../auth/auth.module';
import { GatewayAuthModule } from '../auth/gateway-auth.module';
import type { RedisConnection } from '../auth/token-store/redis-connection';
import { MetricsModule } from '../metrics/metrics.module';
import { RoutingModule } from '../routing/routing.module';
import { MemoryRateLimitStore, RateLimitStore, RedisRateLimitStore } from './rate-limit-store';
import { RateLimiter } from './rate-limiter';

/** Per-route rate limits, counted in the gateway's Redis (in this process without `REDIS_URL`). */
@Module({
  imports: [RoutingModule, MetricsModule, GatewayAuthModule, ConfigModule.forFeature(authConfig)],
  providers: [
    {
      provide: RateLimitStore,
      inject: [authConfig.KEY, AUTH_REDIS],
      useFactory: (config: ConfigType<typeof authConfig>, redis: RedisConnection | null) =>
        redis
          ? new RedisRateLimitStore(redis, `${config.redis.keyPrefix}ratelimit:`)
          : new MemoryRateLimitStore(),
    },
    RateLimiter,
  ],
  exports: [RateLimiter],
})
export class RateLimitModule {}
