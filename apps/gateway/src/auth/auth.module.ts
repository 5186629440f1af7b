import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';
import { ConfigModule, ConfigType } from '@nestjs/config';
import { JwtModule, JwtModuleOptions } from '@nestjs/jwt';
import { TerminusModule } from '@nestjs/terminus';
import { createPrivateKey, createPublicKey, createSecretKey, KeyObject } from 'node:crypto';
import { authConfig } from './auth.config';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { TRUSTED_PROXY_HOPS } from './auth.tokens';
import { CredentialsClient, USER_SERVICE_NAME, USER_SERVICE_URLS } from './credentials.client';
import { JwtAuthGuard } from './jwt-auth.guard';
import { MemoryRateLimitStore, RedisRateLimitStore } from '../redis/rate-limit-store';
import { LoginRateLimiter } from './login-rate-limiter';
import { MemoryTokenStore } from './token-store/memory-token-store';
import { RedisTokenStore } from './token-store/redis-token-store';
import { TokenStore } from './token-store/token-store';
import { TokenStoreHealthIndicator } from './token-store/token-store.health';
import { TokenVerifier } from './token-verifier';
import type { RedisConnection } from '../redis/redis-connection';
import { REDIS_CONNECTION, RedisModule } from '../redis/redis.module';
import type { GatewayConfig } from '../routing/gateway-config';
import { RoutingModule } from '../routing/routing.module';
import { GATEWAY_CONFIG } from '../routing/routing.tokens';

type AuthConfig = ConfigType<typeof authConfig>;

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
 * Login, logout and the request check behind both the JWT guard and the proxy: the JWT guard plus
 * the token store (Redis, or memory for one instance) and its verified-token cache. Logins go to the
 * replicas of the route config's `user-service` (`AUTH_USER_SERVICE_URLS` only when the route config
 * has no such service), and login attempts count by client address behind the route config's
 * `trustedProxyHops`. Exports `AuthService` (for the proxy), `JwtAuthGuard` (for the gateway's own
 * endpoints), `TokenStoreHealthIndicator` (for readiness) and `TokenStore` (whose revocations
 * close WebSocket tunnels).
 */
@Module({
  imports: [
    RoutingModule,
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
    {
      provide: USER_SERVICE_URLS,
      inject: [GATEWAY_CONFIG, authConfig.KEY],
      useFactory: (gateway: GatewayConfig, config: AuthConfig): readonly string[] => {
        const targets = gateway.services.find((s) => s.name === USER_SERVICE_NAME)?.targets;
        return targets && targets.length > 0 ? targets.map((t) => t.url) : config.userServiceUrls;
      },
    },
    {
      provide: TRUSTED_PROXY_HOPS,
      inject: [GATEWAY_CONFIG],
      useFactory: (gateway: GatewayConfig) => gateway.trustedProxyHops,
    },
    {
      provide: TokenStore,
      inject: [REDIS_CONNECTION],
      useFactory: (redis: RedisConnection | null): TokenStore =>
        redis ? new RedisTokenStore(redis, { keyPrefix: redis.keyPrefix }) : new MemoryTokenStore(),
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
  exports: [AuthService, JwtAuthGuard, TokenStoreHealthIndicator, TokenStore],
})
export class AuthModule {}
