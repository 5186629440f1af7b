import type { IncomingMessage } from 'node:http';

/** Tokens above this size are refused before any signature or store work (a cheap DoS guard). */
export const MAX_TOKEN_BYTES = 8 * 1024;
/** The longest `Authorization` value that can carry an acceptable token (`Bearer ` + token). */
export const MAX_AUTHORIZATION_LENGTH = MAX_TOKEN_BYTES + 'Bearer '.length;

/**
 * RFC 6750 §2.1: `credentials = "Bearer" 1*SP b64token`, the scheme in any case (RFC 9110 §11.1),
 * `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
 */
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
/** The gateway's tokens are compact JWS: three base64url parts (RFC 7515 §7.1). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const SCHEME = /^bearer(?:\s|$)/i;

export type BearerToken =
  | { readonly kind: 'missing' }
  | { readonly kind: 'malformed'; readonly reason: string }
  | { readonly kind: 'token'; readonly token: string };

const MISSING: BearerToken = Object.freeze({ kind: 'missing' });
const DUPLICATE = 'DUPLICATE_AUTHORIZATION';

/**
 * The `Authorization` header of a request, or a marker when it was sent more than once: Node keeps
 * only the first copy in `req.headers`, and two credentials must not be read as one.
 */
export function authorizationOf(req: IncomingMessage): string | undefined {
  const value = req.headers.authorization;
  if (value === undefined) return undefined;
  const raw = req.rawHeaders;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length === 13 && name.toLowerCase() === 'authorization' && ++seen > 1)
      return DUPLICATE;
  }
  return value;
}

/**
 * Extracts the bearer token. Another scheme (`Basic ...`) counts as no bearer token; a `Bearer`
 * header that is not exactly one well-formed token is malformed.
 */
export function parseBearer(header: string | undefined): BearerToken {
  if (header === undefined || header === '') return MISSING;
  if (header === DUPLICATE)
    return { kind: 'malformed', reason: 'more than one Authorization header' };
  if (header.length > MAX_AUTHORIZATION_LENGTH)
    return { kind: 'malformed', reason: 'token too large' };
  const match = BEARER.exec(header);
  if (match) {
    if (COMPACT_JWS.test(match[1])) return { kind: 'token', token: match[1] };
    return { kind: 'malformed', reason: 'malformed token' };
  }
  if (!SCHEME.test(header)) return MISSING;
  return { kind: 'malformed', reason: 'malformed Authorization header' };
}
