import { JwtService } from '@nestjs/jwt';
import { createHmac } from 'node:crypto';
import type { AuthConfig } from '../../src/auth/auth.config';
import { jwtModuleOptions } from '../../src/auth/auth.module';
import { TokenVerifier } from '../../src/auth/token-verifier';

/** The HS256 secret the auth tests sign with. */
export const TEST_SECRET = '0123456789abcdef0123456789abcdef';

export function testAuthConfig(overrides: Partial<AuthConfig> = {}): AuthConfig {
  return {
    keys: { algorithm: 'HS256', secret: Buffer.from(TEST_SECRET), generated: false },
    ttlSeconds: 900,
    issuer: 'api-gateway',
    audience: 'api',
    clockToleranceSeconds: 5,
    userServiceUrls: [],
    userServiceTimeoutMs: 1_000,
    login: { perIp: 10, perEmail: 5, windowSeconds: 60 },
    tokenCache: { enabled: true, maxEntries: 100 },
    ...overrides,
  };
}

export function testVerifier(config: AuthConfig = testAuthConfig()): TokenVerifier {
  return new TokenVerifier(new JwtService(jwtModuleOptions(config)), config);
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Signs exactly these claims and header (no library defaults) with an HMAC of the given strength. */
export function hmacToken(
  payload: object,
  key: string | Buffer = TEST_SECRET,
  bits: 256 | 384 | 512 = 256,
): string {
  const unsigned = `${b64({ alg: `HS${bits}`, typ: 'JWT' })}.${b64(payload)}`;
  return `${unsigned}.${createHmac(`sha${bits}`, key).update(unsigned).digest('base64url')}`;
}

/** An unsigned token (`alg: none`). */
export function unsignedToken(payload: object): string {
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
}

/** Claims as the gateway issues them, valid at `nowMs`, with overrides (`undefined` drops one). */
export function tokenClaims(
  overrides: Record<string, unknown> = {},
  nowMs = Date.now(),
): Record<string, unknown> {
  const now = Math.floor(nowMs / 1000);
  const claims: Record<string, unknown> = {
    sub: '7',
    email: 'ada@example.com',
    roles: ['user'],
    iat: now - 10,
    exp: now + 600,
    jti: `t-${Math.random().toString(36).slice(2)}`,
    iss: 'api-gateway',
    aud: 'api',
    ...overrides,
  };
  for (const key of Object.keys(claims)) if (claims[key] === undefined) delete claims[key];
  return claims;
}
