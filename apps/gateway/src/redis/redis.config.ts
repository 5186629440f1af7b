import { validateEnv } from '@app/common';
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
  REDIS_KEY_PREFIX: string = 'gateway:';
}

export interface RedisConfig {
  /** `undefined`: no Redis; every store lives in this process. */
  url?: string;
  keyPrefix: string;
  /** Longest wait for one command before the caller is told Redis is unavailable. */
  timeoutMs: number;
}

export const REDIS_CONFIG = 'redis';

/** `REDIS_URL` with `REDIS_PASSWORD` as its password; a password given twice is refused. */
function redisUrl(env: RedisEnv): string | undefined {
  if (env.REDIS_PASSWORD === undefined) return env.REDIS_URL;
  if (env.REDIS_URL === undefined) {
    throw new Error('Invalid configuration: REDIS_PASSWORD: set only together with REDIS_URL');
  }
  const url = new URL(env.REDIS_URL);
  if (url.password !== '') {
    throw new Error(
      'Invalid configuration: REDIS_PASSWORD: REDIS_URL already carries a password; set it in one place',
    );
  }
  // The client decodes the URL's password; encoding `%` too keeps any password intact.
  url.password = encodeURIComponent(env.REDIS_PASSWORD);
  return url.toString();
}

/** `REDIS_URL`, `REDIS_PASSWORD` (or `REDIS_PASSWORD_FILE`), `REDIS_KEY_PREFIX`, `AUTH_REDIS_TIMEOUT_MS`. */
export const redisConfig = registerAs(REDIS_CONFIG, (): RedisConfig => {
  const env = validateEnv(RedisEnv, process.env, { fileSecrets: ['REDIS_PASSWORD'] });
  return {
    url: redisUrl(env),
    keyPrefix: env.REDIS_KEY_PREFIX,
    timeoutMs: env.AUTH_REDIS_TIMEOUT_MS,
  };
});
