import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import type { RedisConnection } from '../redis/redis-connection';
import { REDIS_CONNECTION, RedisModule } from '../redis/redis.module';
import { ResponseCache } from './response-cache';
import {
  MemoryResponseCacheStore,
  RedisResponseCacheStore,
  ResponseCacheStore,
} from './response-cache-store';

/** The response cache, in the gateway's Redis (in this process without `REDIS_URL`). */
@Module({
  imports: [MetricsModule, RedisModule],
  providers: [
    {
      provide: ResponseCacheStore,
      inject: [REDIS_CONNECTION],
      useFactory: (redis: RedisConnection | null) =>
        redis
          ? new RedisResponseCacheStore(redis, redis.keyPrefix)
          : new MemoryResponseCacheStore(),
    },
    ResponseCache,
  ],
  exports: [ResponseCache],
})
export class ResponseCacheModule {}
