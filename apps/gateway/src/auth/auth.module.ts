import { HttpModule } from '@nestjs/axios';
import { DynamicModule, FactoryProvider, Module, ModuleMetadata } from '@nestjs/common';
import { ConfigModule, ConfigType } from '@nestjs/config';
import { JwtModule, JwtModuleOptions } from '@nestjs/jwt';
import { TerminusModule } from '@nestjs/terminus';
import { createPrivateKey, createPublicKey, createSecretKey, KeyObject } from 'node:crypto';
import { authConfig } from './auth.config';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { TRUSTED_PROXY_HOPS } from './auth.tokens';
import { CredentialsClient, USER_SERVICE_URLS, UserServiceUrls } from './credentials.client';
import { JwtAuthGuard } from './jwt-auth.guard';
import { MemoryRateLimitStore, RedisRateLimitStore } from '../redis/rate-limit-store';
import { LoginRateLimiter } from './login-attempts';
import { MemoryTokenStore } from './token-store/memory-token-store';
import { RedisTokenStore } from './token-store/redis-token-store';
import { TokenStore } from './token-store/token-store';
import { TokenStoreHealthIndicator } from './token-store/token-store.health';
import { TokenVerifier } from './token-verifier';
import type { RedisConnection } from '../redis/redis-connection';
import { REDIS_CONNECTION, RedisModule } from '../redis/redis.module';

type AuthConfig = ConfigType<typeof authConfig>;

export interface AuthModuleOptions {
  /** Modules that export what `userServiceUrls.inject` names. */
  imports?: ModuleMetadata['imports'];
  /** Where user-service replicas listen; `AUTH_USER_SERVICE_URLS` when not given. */
  userServiceUrls?: Pick<FactoryProvider<UserServiceUrls>, 'inject' | 'useFactory'>;
  /** Trusted proxies in front of the gateway (`TRUSTED_PROXY_HOPS`); none when not given. */
  trustedProxyHops?: Pick<FactoryProvider<number>, 'inject' | 'useFactory'>;
}

function keyObject(variable: string, make: () => KeyObject): KeyObject {
  try {
    return make();
  } catch (err) {
    throw new Error(
      `Invalid configuration: ${variable}: not a usable key (${(err as Error).message})`,
    );
  }
}

/** One algorithm, pinned for both signing and verifying; claims are set by TokenVerifier. */
export function jwtModuleOptions(config: AuthConfig): JwtModuleOptions {
  const verifyOptions = {
    algorithms: [config.keys.algorithm],
    issuer: config.issuer,
    audience: config.audience,
    clockTolerance: config.clockToleranceSeconds,
  };
  const signOptions = { algorithm: config.keys.algorithm };
  if (config.keys.algorithm === 'HS256') {
    return { secret: createSecretKey(config.keys.secret), signOptions, verifyOptions };
  }
  const { privateKey, publicKey } = config.keys;
  return {
    privateKey: keyObject('JWT_PRIVATE_KEY_FILE', () => createPrivateKey(privateKey)),
    publicKey: keyObject('JWT_PUBLIC_KEY_FILE', () => createPublicKey(publicKey)),
    signOptions,
    verifyOptions,
  };
}

/**
 * Login, logout and the request check behind both the JWT guard and the proxy. Exports `AuthService`
 * (for the proxy), `JwtAuthGuard` (for the gateway's own endpoints) and `TokenStoreHealthIndicator`
 * (for readiness).
 */
@Module({})
export class AuthModule {
  static forRoot(options: AuthModuleOptions = {}): DynamicModule {
    const userServiceUrls: FactoryProvider<UserServiceUrls> = options.userServiceUrls
      ? { provide: USER_SERVICE_URLS, ...options.userServiceUrls }
      : {
          provide: USER_SERVICE_URLS,
          inject: [authConfig.KEY],
          useFactory: (config: AuthConfig) => () => config.userServiceUrls,
        };
    return {
      module: AuthModule,
      imports: [
        ...(options.imports ?? []),
        ConfigModule.forFeature(authConfig),
        RedisModule,
        HttpModule,
        TerminusModule,
        JwtModule.registerAsync({
          imports: [ConfigModule.forFeature(authConfig)],
          inject: [authConfig.KEY],
          useFactory: jwtModuleOptions,
        }),
      ],
      controllers: [AuthController],
      providers: [
        userServiceUrls,
        { provide: TRUSTED_PROXY_HOPS, ...(options.trustedProxyHops ?? { useFactory: () => 0 }) },
        {
          provide: TokenStore,
          inject: [authConfig.KEY, REDIS_CONNECTION],
          useFactory: (config: AuthConfig, redis: RedisConnection | null): TokenStore =>
            redis
              ? new RedisTokenStore(redis, {
                  keyPrefix: redis.keyPrefix,
                  revocationEvents: config.tokenCache.enabled,
                })
              : new MemoryTokenStore(),
        },
        {
          provide: LoginRateLimiter,
          inject: [authConfig.KEY, REDIS_CONNECTION],
          useFactory: (config: AuthConfig, redis: RedisConnection | null) =>
            new LoginRateLimiter(
              redis
                ? new RedisRateLimitStore(redis, `${redis.keyPrefix}auth:login:`, 'login-limit')
                : new MemoryRateLimitStore(),
              config.login,
            ),
        },
        TokenVerifier,
        CredentialsClient,
        AuthService,
        JwtAuthGuard,
        TokenStoreHealthIndicator,
      ],
      exports: [AuthService, JwtAuthGuard, TokenStore, TokenStoreHealthIndicator],
    };
  }
}
