import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { authorizationOf, MAX_TOKEN_BYTES, parseBearer } from './bearer-token';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl';

describe('parseBearer', () => {
  it('should take one token after the scheme, whatever the scheme case', () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      expect(parseBearer(`${scheme} ${JWT}`)).toEqual({ kind: 'token', token: JWT });
    }
  });

  it('should treat no header and another scheme as no bearer token', () => {
    expect(parseBearer(undefined)).toEqual({ kind: 'missing' });
    expect(parseBearer('')).toEqual({ kind: 'missing' });
    expect(parseBearer('Basic dXNlcjpwYXNz')).toEqual({ kind: 'missing' });
    expect(parseBearer('Bearerx abc.def.ghi')).toEqual({ kind: 'missing' });
  });

  it.each([
    ['Bearer'],
    ['Bearer '],
    [`Bearer ${JWT} `],
    [`Bearer ${JWT} ${JWT}`],
    [`Bearer ${JWT},Bearer ${JWT}`],
    [`Bearer\t${JWT}`],
    ['Bearer not-a-jwt'],
    ['Bearer a.b'],
    ['Bearer a.b.c.d'],
    ['Bearer a+b.c.d'],
  ])('should call %p malformed', (header) => {
    expect(parseBearer(header)).toMatchObject({ kind: 'malformed' });
  });

  it('should allow one or more spaces between scheme and token (RFC 6750 §2.1: 1*SP)', () => {
    for (const sep of [' ', '  ', '    ']) {
      expect(parseBearer(`Bearer${sep}${JWT}`)).toEqual({ kind: 'token', token: JWT });
    }
  });

  it.each([['Bearer a~b+c/d=='], ['Bearer abc==='], ['Bearer a.b.c.d.e']])(
    'should read %p as a b64token that is not a compact JWS: a malformed token',
    (header) => {
      expect(parseBearer(header)).toEqual({ kind: 'malformed', reason: 'malformed token' });
    },
  );

  it('should refuse a token over 8 KB by its size alone', () => {
    const big = `Bearer ${'a'.repeat(MAX_TOKEN_BYTES)}.b.c`;
    expect(parseBearer(big)).toEqual({ kind: 'malformed', reason: 'token too large' });
    const justFits = `Bearer ${'a'.repeat(MAX_TOKEN_BYTES - 4)}.b.c`;
    expect(parseBearer(justFits)).toMatchObject({ kind: 'token' });
  });
});

describe('authorizationOf', () => {
  const request = (rawHeaders: string[]): IncomingMessage => {
    const req = new IncomingMessage(new Socket());
    req.rawHeaders = rawHeaders;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i].toLowerCase();
      // Node keeps the first Authorization header only.
      req.headers[name] ??= rawHeaders[i + 1];
    }
    return req;
  };

  it('should return the single header', () => {
    expect(authorizationOf(request(['Host', 'x', 'Authorization', `Bearer ${JWT}`]))).toBe(
      `Bearer ${JWT}`,
    );
    expect(authorizationOf(request(['Host', 'x']))).toBeUndefined();
  });

  it('should turn two Authorization headers into a malformed credential', () => {
    const header = authorizationOf(
      request(['authorization', `Bearer ${JWT}`, 'AUTHORIZATION', `Bearer ${JWT}`]),
    );
    expect(parseBearer(header)).toEqual({
      kind: 'malformed',
      reason: 'more than one Authorization header',
    });
  });
});
