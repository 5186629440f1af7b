import { IsHttpUrlList, parseUrlList, readSecretFile, validateEnv } from '@app/common';
import { registerAs } from '@nestjs/config';
import { Transform, TransformFnParams } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import { randomBytes } from 'node:crypto';

/** Reads the raw string: implicit conversion would already have turned "false" into `true`. */
const toBoolean = ({ obj, key }: TransformFnParams): unknown => {
  const raw = (obj as Record<string, unknown>)[key];
  return raw === 'true' ? true : raw === 'false' ? false : raw;
};

class AuthEnv {
  @IsOptional()
  @IsString()
  JWT_SECRET?: string = undefined;

  /** Read by `validateEnv` into `JWT_SECRET`; kept here to name it in errors. */
  @IsOptional()
  @IsString()
  JWT_SECRET_FILE?: string = undefined;

  @IsIn(['HS256', 'RS256'], { message: 'JWT_ALGORITHM must be HS256 or RS256' })
  JWT_ALGORITHM: 'HS256' | 'RS256' = 'HS256';

  @IsOptional()
  @IsString()
  JWT_PRIVATE_KEY_FILE?: string = undefined;

  @IsOptional()
  @IsString()
  JWT_PUBLIC_KEY_FILE?: string = undefined;

  @IsInt()
  @Min(30)
  @Max(86_400)
  JWT_TTL_SECONDS: number = 900;

  @IsString()
  @MinLength(1)
  @MaxLength(200)
  JWT_ISSUER: string = 'api-gateway';

  @IsString()
  @MinLength(1)
  @MaxLength(200)
  JWT_AUDIENCE: string = 'api';

  @IsInt()
  @Min(0)
  @Max(300)
  JWT_CLOCK_TOLERANCE_SECONDS: number = 5;

  @IsHttpUrlList()
  AUTH_USER_SERVICE_URLS: string = 'http://127.0.0.1:3002,http://127.0.0.1:3004';

  @IsInt()
  @Min(50)
  @Max(60_000)
  AUTH_USER_SERVICE_TIMEOUT_MS: number = 2_000;

  @IsInt()
  @Min(1)
  AUTH_LOGIN_LIMIT_PER_IP: number = 10;

  @IsInt()
  @Min(1)
  AUTH_LOGIN_LIMIT_PER_EMAIL: number = 5;

  @IsInt()
  @Min(1)
  @Max(86_400)
  AUTH_LOGIN_WINDOW_SECONDS: number = 60;

  @Transform(toBoolean)
  @IsBoolean({ message: 'AUTH_TOKEN_CACHE must be true or false' })
  AUTH_TOKEN_CACHE: boolean = true;

  @IsInt()
  @Min(1)
  @Max(1_000_000)
  AUTH_TOKEN_CACHE_MAX_ENTRIES: number = 10_000;

  @IsOptional()
  @IsString()
  NODE_ENV?: string = undefined;
}

/** HS256 signs and verifies with one shared secret; RS256 signs with the private key and verifies with the public one. */
export type JwtKeys =
  | { algorithm: 'HS256'; secret: Buffer; generated: boolean }
  | { algorithm: 'RS256'; privateKey: string; publicKey: string };

export interface AuthConfig {
  keys: JwtKeys;
  ttlSeconds: number;
  issuer: string;
  audience: string;
  clockToleranceSeconds: number;
  userServiceUrls: string[];
  userServiceTimeoutMs: number;
  login: { perIp: number; perEmail: number; windowSeconds: number };
  tokenCache: { enabled: boolean; maxEntries: number };
}

const AUTH_CONFIG = 'auth';

/** Bytes a production HS256 secret must have at least (the HMAC-SHA256 block strength). */
export const MIN_SECRET_BYTES = 32;

/** Variables that may come from a file named by `<NAME>_FILE` instead (Docker secrets). */
const FILE_SECRETS = ['JWT_SECRET'] as const;

function hsKeys(env: AuthEnv, production: boolean): JwtKeys {
  const variable = env.JWT_SECRET_FILE !== undefined ? 'JWT_SECRET_FILE' : 'JWT_SECRET';
  const secret = env.JWT_SECRET;
  if (secret === undefined || secret === '') {
    if (production) {
      throw new Error(
        `Invalid configuration: JWT_SECRET: required in production (or JWT_SECRET_FILE), at least ${MIN_SECRET_BYTES} bytes`,
      );
    }
    return { algorithm: 'HS256', secret: randomBytes(MIN_SECRET_BYTES), generated: true };
  }
  const bytes = Buffer.from(secret, 'utf8');
  if (production && bytes.length < MIN_SECRET_BYTES) {
    throw new Error(
      `Invalid configuration: ${variable}: must be at least ${MIN_SECRET_BYTES} bytes in production (got ${bytes.length})`,
    );
  }
  return { algorithm: 'HS256', secret: bytes, generated: false };
}

function rsKeys(env: AuthEnv): JwtKeys {
  for (const variable of ['JWT_PRIVATE_KEY_FILE', 'JWT_PUBLIC_KEY_FILE'] as const) {
    if (!env[variable]) {
      throw new Error(`Invalid configuration: ${variable}: required when JWT_ALGORITHM is RS256`);
    }
  }
  return {
    algorithm: 'RS256',
    privateKey: readSecretFile('JWT_PRIVATE_KEY_FILE', env.JWT_PRIVATE_KEY_FILE!),
    publicKey: readSecretFile('JWT_PUBLIC_KEY_FILE', env.JWT_PUBLIC_KEY_FILE!),
  };
}

/**
 * Token signing, the token store and login limits. Without a secret outside production a random one is
 * made (tokens then die with the process and differ per replica); in production a missing or short
 * secret stops the gateway with a message naming the variable.
 */
export const authConfig = registerAs(AUTH_CONFIG, (): AuthConfig => {
  const env = validateEnv(AuthEnv, process.env, { fileSecrets: FILE_SECRETS });
  const production = env.NODE_ENV === 'production';
  return {
    keys: env.JWT_ALGORITHM === 'RS256' ? rsKeys(env) : hsKeys(env, production),
    ttlSeconds: env.JWT_TTL_SECONDS,
    issuer: env.JWT_ISSUER,
    audience: env.JWT_AUDIENCE,
    clockToleranceSeconds: env.JWT_CLOCK_TOLERANCE_SECONDS,
    userServiceUrls: parseUrlList(env.AUTH_USER_SERVICE_URLS),
    userServiceTimeoutMs: env.AUTH_USER_SERVICE_TIMEOUT_MS,
    login: {
      perIp: env.AUTH_LOGIN_LIMIT_PER_IP,
      perEmail: env.AUTH_LOGIN_LIMIT_PER_EMAIL,
      windowSeconds: env.AUTH_LOGIN_WINDOW_SECONDS,
    },
    tokenCache: { enabled: env.AUTH_TOKEN_CACHE, maxEntries: env.AUTH_TOKEN_CACHE_MAX_ENTRIES },
  };
});
