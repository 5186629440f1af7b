import { Logger } from '@nestjs/common';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  hmacToken,
  testAuthConfig,
  testVerifier,
  tokenClaims,
  unsignedToken,
} from '../../test/support/auth-fixtures';

const NOW = Date.UTC(2030, 0, 1);
const NOW_S = NOW / 1000;

const claims = (extra: Record<string, unknown> = {}) =>
  tokenClaims({ jti: 'b3c1f1de-6f0e-4c1e-9a57-2a0f8a0b6c11', ...extra }, NOW);

describe('TokenVerifier (HS256)', () => {
  const verifier = testVerifier();
  const hs = (payload: object, bits: 256 | 384 | 512 = 256) => hmacToken(payload, undefined, bits);

  it('should sign tokens it then accepts, with every documented claim', async () => {
    const { token, claims: signed } = await verifier.sign(
      { id: 7, email: 'ada@example.com', roles: ['user'] },
      NOW,
    );
    expect(signed).toEqual({
      sub: '7',
      email: 'ada@example.com',
      roles: ['user'],
      iat: NOW_S,
      exp: NOW_S + 900,
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
      iss: 'api-gateway',
      aud: 'api',
    });
    expect(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString())).toEqual({
      alg: 'HS256',
      typ: 'JWT',
    });
    expect(verifier.verify(token, NOW)).toEqual({ ok: true, claims: signed });
  });

  it('should give every token a new jti', async () => {
    const subject = { id: 7, email: 'a@example.com', roles: [] };
    const a = await verifier.sign(subject, NOW);
    const b = await verifier.sign(subject, NOW);
    expect(a.claims.jti).not.toBe(b.claims.jti);
  });

  it.each([
    ['alg none', unsignedToken(claims()), 'algorithm not allowed'],
    ['HS384 with the right secret', hs(claims(), 384), 'algorithm not allowed'],
    ['HS512 with the right secret', hs(claims(), 512), 'algorithm not allowed'],
    ['a bad signature', `${hs(claims()).slice(0, -3)}AAA`, 'invalid signature'],
    [
      'another secret',
      hmacToken(claims(), 'another-secret-another-secret-xx'),
      'invalid signature',
    ],
    ['expiry beyond the leeway', hs(claims({ exp: NOW_S - 6 })), 'token expired'],
    ['nbf in the future', hs(claims({ nbf: NOW_S + 60 })), 'token not active yet'],
    ['iat in the future', hs(claims({ iat: NOW_S + 60 })), 'token issued in the future'],
    ['a wrong issuer', hs(claims({ iss: 'someone-else' })), 'wrong issuer'],
    ['a wrong audience', hs(claims({ aud: 'other' })), 'wrong audience'],
    ['no sub', hs(claims({ sub: undefined })), 'missing or invalid sub'],
    ['a non-numeric sub', hs(claims({ sub: 'admin' })), 'missing or invalid sub'],
    ['no exp', hs(claims({ exp: undefined })), 'missing exp'],
    ['no iat', hs(claims({ iat: undefined })), 'missing iat'],
    ['no jti', hs(claims({ jti: undefined })), 'missing or invalid jti'],
    ['roles that are not a list', hs(claims({ roles: 'admin' })), 'missing or invalid roles'],
    ['a role with a comma', hs(claims({ roles: ['user,admin'] })), 'missing or invalid roles'],
    ['garbage', 'abc.def.ghi', 'malformed token'],
  ])('should refuse %s', (_, token, description) => {
    expect(verifier.verify(token, NOW)).toEqual({ ok: false, description });
  });

  it('should accept a token expired within the clock tolerance, and nbf within it', () => {
    expect(verifier.verify(hs(claims({ exp: NOW_S - 4 })), NOW).ok).toBe(true);
    expect(verifier.verify(hs(claims({ nbf: NOW_S + 4, iat: NOW_S + 4 })), NOW).ok).toBe(true);
  });
});

describe('TokenVerifier start-up warnings', () => {
  afterEach(() => jest.restoreAllMocks());

  it('should warn that a generated secret dies with the process', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    testVerifier(
      testAuthConfig({ keys: { algorithm: 'HS256', secret: randomBytes(32), generated: true } }),
    ).onModuleInit();
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(/^JWT_SECRET is not set: using a random secret/),
    );
  });

  it('should warn about a short secret outside production', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    testVerifier(
      testAuthConfig({
        keys: { algorithm: 'HS256', secret: Buffer.from('short'), generated: false },
      }),
    ).onModuleInit();
    expect(warn).toHaveBeenCalledWith('JWT_SECRET has 5 bytes; production requires at least 32.');
  });
});

describe('TokenVerifier (RS256)', () => {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKey = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicKey = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const verifier = testVerifier(
    testAuthConfig({ keys: { algorithm: 'RS256', privateKey, publicKey } }),
  );

  it('should sign with the private key and verify with the public one', async () => {
    const { token } = await verifier.sign({ id: 1, email: 'a@example.com', roles: [] }, NOW);
    expect(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).alg).toBe('RS256');
    expect(verifier.verify(token, NOW).ok).toBe(true);
  });

  it('should refuse an HS256 token whose HMAC key is the RS public key', () => {
    expect(verifier.verify(hmacToken(claims(), publicKey), NOW)).toEqual({
      ok: false,
      description: 'algorithm not allowed',
    });
  });
});
