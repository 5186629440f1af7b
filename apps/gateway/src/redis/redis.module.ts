import { Module } from '@nestjs/common';
import { ConfigModule, ConfigType } from '@nestjs/config';
import { RedisConnection } from './redis-connection';
import { redisConfig } from './redis.config';

/** The gateway's one `RedisConnection`, or `null` when `REDIS_URL` is unset (in-memory stores). */
export const REDIS_CONNECTION = Symbol('REDIS_CONNECTION');

/**
 * Owns the gateway's Redis connection and its settings; the token store, login limits, rate limits
 * and the response cache take it from here and fall back to memory when it is `null`.
 */
@Module({
  imports: [ConfigModule.forFeature(redisConfig)],
  providers: [
    {
      provide: REDIS_CONNECTION,
      inject: [redisConfig.KEY],
      useFactory: ({ url, timeoutMs, keyPrefix }: ConfigType<typeof redisConfig>) =>
        url ? new RedisConnection(url, timeoutMs, keyPrefix) : null,
    },
  ],
  exports: [REDIS_CONNECTION],
})
export class RedisModule {}
