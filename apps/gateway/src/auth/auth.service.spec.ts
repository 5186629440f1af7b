import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import {
  hmacToken,
  testAuthConfig,
  testVerifier,
  tokenClaims,
} from '../../test/support/auth-fixtures';
import { AUTHENTICATED, parseAuthPolicy, PUBLIC } from '../routing/auth-policy';
import { AuthOutcome, AuthService } from './auth.service';
import { MAX_TOKEN_BYTES } from './bearer-token';
import { CredentialsCheck, CredentialsClient } from './credentials.client';
import { MemoryRateLimitStore } from '../redis/rate-limit-store';
import { LoginRateLimiter } from './login-rate-limiter';
import { MemoryTokenStore } from './token-store/memory-token-store';
import { RedisUnavailableError } from '../redis/redis-connection';

const ADMIN = parseAuthPolicy('role:admin');

describe('AuthService', () => {
  let store: MemoryTokenStore;
  let credentials: { verify: jest.Mock<Promise<CredentialsCheck>> };
  let auth: AuthService;
  const verifier = testVerifier();

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    store = new MemoryTokenStore();
    credentials = {
      verify: jest.fn(() =>
        Promise.resolve<CredentialsCheck>({
          kind: 'valid',
          user: { id: 7, name: 'Ada', email: 'ada@example.com', roles: ['user'] },
        }),
      ),
    };
    auth = new AuthService(
      verifier,
      store,
      new LoginRateLimiter(new MemoryRateLimitStore(), {
        perIp: 100,
        perEmail: 100,
        windowSeconds: 60,
      }),
      credentials as unknown as CredentialsClient,
      testAuthConfig(),
    );
  });

  afterEach(() => {
    store.onModuleDestroy();
    jest.restoreAllMocks();
  });

  async function login(): Promise<string> {
    const result = await auth.login('ada@example.com', 'pw', '127.0.0.1');
    if (result.kind !== 'ok') throw new Error(`login failed: ${result.kind}`);
    return result.token.accessToken;
  }

  /** A token signed with the right key whose jti the store holds, for claims a login never makes. */
  async function registered(overrides: Record<string, unknown>): Promise<string> {
    const claims = tokenClaims(overrides);
    await store.register(claims.jti as string, claims.sub as string, 60_000);
    return hmacToken(claims);
  }

  it('should warn at start that the in-memory store serves one instance only', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    auth.onModuleInit();
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(/REDIS_URL is not set.*ONE gateway instance/),
    );
  });

  it('should let anyone through a public route, synchronously, without reading the header', () => {
    const spy = jest.spyOn(verifier, 'verify');
    expect(auth.authorize(PUBLIC, 'Bearer garbage')).toEqual({ ok: true });
    expect(spy).not.toHaveBeenCalled();
  });

  it('should log in, then accept the token and expose its claims', async () => {
    const result = await auth.login('ada@example.com', 'pw', '127.0.0.1');
    expect(result).toEqual({
      kind: 'ok',
      token: { accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: 900 },
    });
    const token = (result as { token: { accessToken: string } }).token.accessToken;
    const outcome = await auth.authorize(AUTHENTICATED, `Bearer ${token}`);
    expect(outcome).toMatchObject({
      ok: true,
      principal: {
        userId: 7,
        roles: ['user'],
        identityHeaders: {
          'x-user-id': '7',
          'x-user-email': 'ada@example.com',
          'x-user-roles': 'user',
        },
      },
    });
  });

  it('should ask for a token with a bare Bearer challenge when none is sent', () => {
    expect(auth.authorize(AUTHENTICATED, undefined)).toEqual({
      ok: false,
      status: 401,
      message: 'authentication required',
      challenge: 'Bearer',
    });
  });

  it('should refuse a token over 8 KB before any crypto or store work', () => {
    const verify = jest.spyOn(verifier, 'verify');
    const isLive = jest.spyOn(store, 'isLive');
    const huge = `Bearer ${'a'.repeat(MAX_TOKEN_BYTES)}.b.c`;
    expect(auth.authorize(AUTHENTICATED, huge)).toEqual({
      ok: false,
      status: 401,
      message: 'token too large',
      challenge: 'Bearer error="invalid_token", error_description="token too large"',
    });
    expect(verify).not.toHaveBeenCalled();
    expect(isLive).not.toHaveBeenCalled();
  });

  it('should refuse a well-signed token that the store does not hold', async () => {
    const outcome = await auth.authorize(AUTHENTICATED, `Bearer ${hmacToken(tokenClaims())}`);
    expect(outcome).toMatchObject({ ok: false, status: 401, message: 'token revoked' });
  });

  it('should refuse a role route to a user without the role with 403, and admit an admin', async () => {
    const user = await registered({ roles: ['user'] });
    await expect(auth.authorize(ADMIN, `Bearer ${user}`)).resolves.toEqual({
      ok: false,
      status: 403,
      message: 'requires role admin',
      challenge: 'Bearer error="insufficient_scope", error_description="requires role admin"',
    });
    const admin = await registered({ roles: ['admin', 'user'] });
    await expect(auth.authorize(ADMIN, `Bearer ${admin}`)).resolves.toMatchObject({ ok: true });
  });

  it('should answer 503 when the store cannot be asked (fail closed)', async () => {
    const token = await registered({});
    jest.spyOn(store, 'isLive').mockRejectedValue(new RedisUnavailableError('down'));
    await expect(auth.authorize(AUTHENTICATED, `Bearer ${token}`)).resolves.toEqual({
      ok: false,
      status: 503,
      message: 'authentication is temporarily unavailable',
    });
  });

  it('should answer a repeat request from the cache, synchronously and without the store', async () => {
    const token = await login();
    await auth.authorize(AUTHENTICATED, `Bearer ${token}`);
    const isLive = jest.spyOn(store, 'isLive');
    const again = auth.authorize(AUTHENTICATED, `Bearer ${token}`) as AuthOutcome;
    expect(again).toMatchObject({ ok: true, principal: { userId: 7 } });
    expect(isLive).not.toHaveBeenCalled();
  });

  it('should refuse the token after logout, even when it was cached', async () => {
    const token = await login();
    const first = await auth.authorize(AUTHENTICATED, `Bearer ${token}`);
    if (!first.ok || !first.principal) throw new Error('expected a signed-in caller');
    await auth.logout(first.principal);
    await expect(auth.authorize(AUTHENTICATED, `Bearer ${token}`)).resolves.toMatchObject({
      ok: false,
      message: 'token revoked',
    });
  });

  it('should refuse every token of the user after logout-all', async () => {
    const [a, b] = [await login(), await login()];
    const first = await auth.authorize(AUTHENTICATED, `Bearer ${a}`);
    await auth.authorize(AUTHENTICATED, `Bearer ${b}`);
    if (!first.ok || !first.principal) throw new Error('expected a signed-in caller');
    await expect(auth.logoutAll(first.principal)).resolves.toBe(2);
    for (const token of [a, b]) {
      await expect(auth.authorize(AUTHENTICATED, `Bearer ${token}`)).resolves.toMatchObject({
        ok: false,
        status: 401,
      });
    }
  });

  it('should pass on wrong credentials and an unreachable user-service', async () => {
    credentials.verify.mockResolvedValueOnce({ kind: 'invalid' });
    await expect(auth.login('a@b.io', 'x', '1.1.1.1')).resolves.toEqual({ kind: 'invalid' });
    credentials.verify.mockResolvedValueOnce({ kind: 'unavailable', reason: 'ECONNREFUSED' });
    await expect(auth.login('a@b.io', 'x', '1.1.1.1')).resolves.toEqual({
      kind: 'unavailable',
      message: 'user service unavailable',
    });
  });

  it('should refuse a login when the store cannot register the token', async () => {
    jest.spyOn(store, 'register').mockRejectedValue(new RedisUnavailableError('down'));
    await expect(auth.login('ada@example.com', 'pw', '1.1.1.1')).resolves.toEqual({
      kind: 'unavailable',
      message: 'login is temporarily unavailable',
    });
  });
});
