import { INestApplication } from '@nestjs/common';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { TokenStore } from '../src/auth/token-store/token-store';
import { hmacToken, tokenClaims, unsignedToken } from './support/auth-fixtures';
import { ADMIN, decodeJwt, startAuthApp, UserServiceInstance } from './support/auth-harness';

/**
 * Forged and bent tokens against `GET /api/auth/me`. Each token's jti is registered as live in the
 * store, so the only thing standing between it and a 200 is the check the test names.
 */
describe('gateway auth refuses forged tokens (e2e)', () => {
  let app: INestApplication;

  beforeAll(async () => {
    app = await startAuthApp({ AUTH_USER_SERVICE_URLS: 'http://127.0.0.1:9' });
  });

  afterAll(() => app?.close());

  async function live(token: string): Promise<string> {
    const { payload } = decodeJwt(token);
    if (typeof payload.jti === 'string' && typeof payload.sub === 'string') {
      await app.get(TokenStore).register(payload.jti, payload.sub, 120_000);
    }
    return token;
  }

  const me = (token: string) =>
    request(app.getHttpServer()).get('/api/auth/me').set('Authorization', `Bearer ${token}`);

  const now = () => Math.floor(Date.now() / 1000);

  it('should accept a well-formed live token (the control case)', async () => {
    const res = await me(await live(hmacToken(tokenClaims()))).expect(200);
    expect(res.body.sub).toBe('7');
  });

  it('should accept a token expired by less than the 5 s leeway', async () => {
    await me(await live(hmacToken(tokenClaims({ exp: now() - 3 })))).expect(200);
  });

  it.each([
    ['alg none', () => unsignedToken(tokenClaims()), 'algorithm not allowed'],
    [
      'HS384 signed with the right secret',
      () => hmacToken(tokenClaims(), undefined, 384),
      'algorithm not allowed',
    ],
    [
      'HS512 signed with the right secret',
      () => hmacToken(tokenClaims(), undefined, 512),
      'algorithm not allowed',
    ],
    ['a bad signature', () => `${hmacToken(tokenClaims()).slice(0, -4)}AAAA`, 'invalid signature'],
    ['another secret', () => hmacToken(tokenClaims(), 'x'.repeat(32)), 'invalid signature'],
    ['expiry beyond the leeway', () => hmacToken(tokenClaims({ exp: now() - 7 })), 'token expired'],
    [
      'nbf in the future',
      () => hmacToken(tokenClaims({ nbf: now() + 60 })),
      'token not active yet',
    ],
    [
      'iat in the future',
      () => hmacToken(tokenClaims({ iat: now() + 60 })),
      'token issued in the future',
    ],
    ['a wrong issuer', () => hmacToken(tokenClaims({ iss: 'evil' })), 'wrong issuer'],
    ['a wrong audience', () => hmacToken(tokenClaims({ aud: 'billing' })), 'wrong audience'],
    ['no sub', () => hmacToken(tokenClaims({ sub: undefined })), 'missing or invalid sub'],
  ])('should refuse %s with 401 invalid_token', async (_, make, description) => {
    const res = await me(await live(make())).expect(401);
    expect(res.headers['www-authenticate']).toBe(
      `Bearer error="invalid_token", error_description="${description}"`,
    );
    expect(res.body).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: description,
      requestId: expect.any(String),
    });
  });

  it('should refuse a well-signed token the store never issued', async () => {
    const res = await me(hmacToken(tokenClaims())).expect(401);
    expect(res.headers['www-authenticate']).toContain('error_description="token revoked"');
  });
});

describe('gateway auth with RS256 (e2e)', () => {
  const users = new UserServiceInstance();
  let app: INestApplication;
  let dir: string;
  let publicKey: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'auth-rs256-'));
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    publicKey = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    writeFileSync(
      join(dir, 'private.pem'),
      pair.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    writeFileSync(join(dir, 'public.pem'), publicKey);
    await users.start();
    app = await startAuthApp({
      AUTH_USER_SERVICE_URLS: users.url,
      JWT_ALGORITHM: 'RS256',
      JWT_SECRET: undefined,
      JWT_PRIVATE_KEY_FILE: join(dir, 'private.pem'),
      JWT_PUBLIC_KEY_FILE: join(dir, 'public.pem'),
    });
  });

  afterAll(async () => {
    await app?.close();
    await users.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should sign with RS256 and accept its own token', async () => {
    const login = await request(app.getHttpServer())
      .post('/api/auth/login')
      .send(ADMIN)
      .expect(200);
    expect(decodeJwt(login.body.accessToken).header.alg).toBe('RS256');
    await request(app.getHttpServer())
      .get('/api/auth/me')
      .set('Authorization', `Bearer ${login.body.accessToken}`)
      .expect(200);
  });

  it('should refuse an HS256 token signed with the RS public key (algorithm confusion)', async () => {
    const claims = tokenClaims();
    await app.get(TokenStore).register(claims.jti as string, claims.sub as string, 60_000);
    const res = await request(app.getHttpServer())
      .get('/api/auth/me')
      .set('Authorization', `Bearer ${hmacToken(claims, publicKey)}`)
      .expect(401);
    expect(res.headers['www-authenticate']).toContain('error_description="algorithm not allowed"');
  });
});
