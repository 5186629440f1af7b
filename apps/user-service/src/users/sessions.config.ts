import { redisUrlWithPassword, validateEnv } from '@app/common';
import { DEFAULT_REDIS_KEY_PREFIX } from '@app/contracts';
import { registerAs } from '@nestjs/config';
import { IsOptional, IsString, Matches } from 'class-validator';

class SessionsEnv {
  @IsOptional()
  @Matches(/^rediss?:\/\/\S+$/, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string = undefined;

  @IsOptional()
  @IsString()
  REDIS_PASSWORD?: string = undefined;

  @IsOptional()
  @IsString()
  REDIS_KEY_PREFIX: string = DEFAULT_REDIS_KEY_PREFIX;
}

export interface SessionsConfig {
  /** The gateway's token store; unset: the gateway keeps tokens in its own memory, out of reach. */
  redisUrl?: string;
  /** The gateway's `REDIS_KEY_PREFIX`; both must agree. */
  keyPrefix: string;
}

/** The Redis of the gateway's token store, so account changes can revoke the user's tokens. */
export const sessionsConfig = registerAs('sessions', (): SessionsConfig => {
  const env = validateEnv(SessionsEnv, process.env, { fileSecrets: ['REDIS_PASSWORD'] });
  return {
    redisUrl: redisUrlWithPassword(env.REDIS_URL, env.REDIS_PASSWORD),
    keyPrefix: env.REDIS_KEY_PREFIX,
  };
});
