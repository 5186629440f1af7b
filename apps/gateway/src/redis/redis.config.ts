import { redisUrlWithPassword, validateEnv } from '@app/common';
import { DEFAULT_REDIS_KEY_PREFIX } from '@app/contracts';
import { registerAs } from '@nestjs/config';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';

class RedisEnv {
  @IsInt()
  @Min(10)
  @Max(10_000)
  AUTH_REDIS_TIMEOUT_MS: number = 500;

  @IsOptional()
  @Matches(/^rediss?:\/\/\S+$/, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string = undefined;

  /** Added to `REDIS_URL`, so the password can come from a Docker secret (`REDIS_PASSWORD_FILE`). */
  @IsOptional()
  @IsString()
  REDIS_PASSWORD?: string = undefined;

  @IsString()
  @MaxLength(100)
  REDIS_KEY_PREFIX: string = DEFAULT_REDIS_KEY_PREFIX;
}

export interface RedisConfig {
  /** `undefined`: no Redis; every store lives in this process. */
  url?: string;
  keyPrefix: string;
  /** Longest wait for one command before the caller is told Redis is unavailable. */
  timeoutMs: number;
}

const REDIS_CONFIG = 'redis';

/** `REDIS_URL`, `REDIS_PASSWORD` (or `REDIS_PASSWORD_FILE`), `REDIS_KEY_PREFIX`, `AUTH_REDIS_TIMEOUT_MS`. */
export const redisConfig = registerAs(REDIS_CONFIG, (): RedisConfig => {
  const env = validateEnv(RedisEnv, process.env, { fileSecrets: ['REDIS_PASSWORD'] });
  return {
    url: redisUrlWithPassword(env.REDIS_URL, env.REDIS_PASSWORD),
    keyPrefix: env.REDIS_KEY_PREFIX,
    timeoutMs: env.AUTH_REDIS_TIMEOUT_MS,
  };
});
