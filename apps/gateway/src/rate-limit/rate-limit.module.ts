import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import type { RedisConnection } from '../redis/redis-connection';
import { REDIS_CONNECTION, RedisModule } from '../redis/redis.module';
import { RoutingModule } from '../routing/routing.module';
import {
  MemoryRateLimitStore,
  RateLimitStore,
  RedisRateLimitStore,
} from '../redis/rate-limit-store';
import { RateLimiter } from './rate-limiter';

/** Per-route rate limits, counted in the gateway's Redis (in this process without `REDIS_URL`). */
@Module({
  imports: [RoutingModule, MetricsModule, RedisModule],
  providers: [
    {
      provide: RateLimitStore,
      inject: [REDIS_CONNECTION],
      useFactory: (redis: RedisConnection | null) =>
        redis
          ? new RedisRateLimitStore(redis, `${redis.keyPrefix}ratelimit:`)
          : new MemoryRateLimitStore(),
    },
    RateLimiter,
  ],
  exports: [RateLimiter],
})
export class RateLimitModule {}
