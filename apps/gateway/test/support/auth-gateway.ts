import { TokenStore } from '../../src/auth/token-store/token-store';
import { hmacToken, TEST_SECRET, tokenClaims } from './auth-fixtures';
import { withEnv } from './auth-harness';
import { TestGateway } from './test-gateway';

/**
 * The whole gateway with its real authentication (HS256 with the test secret), in-memory stores
 * unless `env` names a Redis.
 */
export function startAuthGateway(
  config: unknown,
  env: Record<string, string | undefined> = {},
): Promise<TestGateway> {
  return withEnv(
    { JWT_SECRET: TEST_SECRET, NODE_ENV: 'test', LOG_LEVEL: 'error', REDIS_URL: undefined, ...env },
    () => new TestGateway(config, { enforceAuth: true }).start(),
  );
}

/** A live token of user `sub`, registered in the gateway's token store as a login would. */
export async function tokenFor(gateway: TestGateway, sub: string): Promise<string> {
  const claims = tokenClaims({ sub, email: `user${sub}@example.com`, roles: ['user'] });
  const store = gateway.get(TokenStore as unknown as new () => TokenStore);
  await store.register(claims.jti as string, sub, 600_000);
  return hmacToken(claims);
}
