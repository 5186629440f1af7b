import { Logger } from '@nestjs/common';
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  TEST_SECRET,
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

/** HS256 over exactly these header and payload texts (duplicate members and all). */
function rawToken(header: string, payload: string): string {
  const unsigned = `${Buffer.from(header).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
  return `${unsigned}.${createHmac('sha256', TEST_SECRET).update(unsigned).digest('base64url')}`;
}

const withHeader = (header: Record<string, unknown>, payload = claims()) =>
  rawToken(JSON.stringify({ alg: 'HS256', ...header }), JSON.stringify(payload));

describe('TokenVerifier against RFC 7515 / RFC 7519', () => {
  const verifier = testVerifier();
  const hs = (payload: object) => hmacToken(payload);

  it.each([
    // RFC 7515 §4.1.11: a crit extension the recipient does not understand makes the JWS invalid.
    [
      'crit naming an extension',
      withHeader({ crit: ['exp'], exp: NOW_S + 60 }),
      'unsupported critical header',
    ],
    [
      'crit with b64 (RFC 7797)',
      withHeader({ crit: ['b64'], b64: false }),
      'unsupported critical header',
    ],
    ['an empty crit list', withHeader({ crit: [] }), 'unsupported critical header'],
    // RFC 7515 §5.2 step 4, RFC 7519 §4: duplicate member names are rejected, not "last one wins".
    [
      'a duplicate header member',
      rawToken('{"alg":"HS256","typ":"JWT","typ":"JWT"}', JSON.stringify(claims())),
      'duplicate member in token',
    ],
    [
      'a duplicate claim',
      rawToken('{"alg":"HS256","typ":"JWT"}', JSON.stringify(claims()).replace('{', '{"sub":"1",')),
      'duplicate member in token',
    ],
    [
      'a duplicate member inside a nested object',
      rawToken('{"alg":"HS256","jwk":{"k":"a","k":"b"}}', JSON.stringify(claims())),
      'duplicate member in token',
    ],
    // RFC 7519 §5.1 / RFC 9068 §4: this gateway's access tokens are "JWT" or "at+jwt".
    ['typ JWE', withHeader({ typ: 'JWE' }), 'unsupported token type'],
    ['typ dpop+jwt', withHeader({ typ: 'dpop+jwt' }), 'unsupported token type'],
    ['a typ that is not a string', withHeader({ typ: 1 }), 'unsupported token type'],
    [
      'a header that is not an object',
      rawToken('"HS256"', JSON.stringify(claims())),
      'malformed token',
    ],
    [
      'a header that is not JSON',
      rawToken('{alg:HS256}', JSON.stringify(claims())),
      'malformed token',
    ],
    // RFC 7516 §9: five parts are a JWE, which the gateway never accepts.
    [
      'a JWE (five parts)',
      'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aaaa.bbbb.cccc',
      'encrypted tokens are not accepted',
    ],
    ['an aud list without ours', hs(claims({ aud: ['other', 'more'] })), 'wrong audience'],
    ['an nbf that is not a number', hs(claims({ nbf: String(NOW_S) })), 'invalid nbf value'],
    ['an exp that is not a number', hs(claims({ exp: String(NOW_S + 60) })), 'invalid exp value'],
    ['an iat that is not a number', hs(claims({ iat: String(NOW_S) })), 'missing iat'],
  ])('should refuse %s', (_, token, description) => {
    expect(verifier.verify(token, NOW)).toEqual({ ok: false, description });
  });

  it.each([
    ['no typ', withHeader({})],
    ['typ JWT', withHeader({ typ: 'JWT' })],
    ['typ jwt (media types are case-insensitive)', withHeader({ typ: 'jwt' })],
    ['typ at+jwt', withHeader({ typ: 'at+jwt' })],
    ['typ application/at+jwt', withHeader({ typ: 'application/at+jwt' })],
    // RFC 7519 §4.1.3: aud may be a list; ours being in it is enough.
    ['an aud list holding ours', hs(claims({ aud: ['other', 'api'] }))],
    ['a fractional NumericDate', hs(claims({ iat: NOW_S - 0.5, exp: NOW_S + 60.25 }))],
  ])('should accept %s', (_, token) => {
    const result = verifier.verify(token, NOW);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.claims.aud).toBe('api');
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
