import { Module } from '@nestjs/common';
import { ConfigModule, ConfigType } from '@nestjs/config';
import { authConfig } from '../auth/auth.config';
import { AUTH_REDIS } from '../auth/auth.module';
import { GatewayAuthModule } from '../auth/gateway-auth.module';
import type { RedisConnection } from '../auth/token-store/redis-connection';
import { MetricsModule } from '../metrics/metrics.module';
import { ResponseCache } from './response-cache';
import {
  MemoryResponseCacheStore,
  RedisResponseCacheStore,
  ResponseCacheStore,
} from './response-cache-store';

/** The response cache, in the gateway's Redis (in this process without `REDIS_URL`). */
@Module({
  imports: [MetricsModule, GatewayAuthModule, ConfigModule.forFeature(authConfig)],
  providers: [
    {
      provide: ResponseCacheStore,
      inject: [authConfig.KEY, AUTH_REDIS],
      useFactory: (config: ConfigType<typeof authConfig>, redis: RedisConnection | null) =>
        redis
          ? new RedisResponseCacheStore(redis, config.redis.keyPrefix)
          : new MemoryResponseCacheStore(),
    },
    ResponseCache,
  ],
  exports: [ResponseCache],
})
export class ResponseCacheModule {}
