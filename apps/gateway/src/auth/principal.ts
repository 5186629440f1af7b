import { IDENTITY_HEADERS } from '@app/contracts';

/** The claims of an access token the gateway issued, as verified. */
export interface AccessClaims {
  sub: string;
  email: string;
  roles: string[];
  iat: number;
  exp: number;
  jti: string;
  iss: string;
  aud: string;
  nbf?: number;
}

/** The identity headers sent upstream, computed once per verified token. */
export interface IdentityHeaders {
  readonly [IDENTITY_HEADERS.userId]: string;
  readonly [IDENTITY_HEADERS.email]: string;
  readonly [IDENTITY_HEADERS.roles]: string;
}

/** A caller whose token passed every check. */
export interface Principal {
  readonly userId: number;
  readonly roles: readonly string[];
  readonly claims: Readonly<AccessClaims>;
  readonly identityHeaders: IdentityHeaders;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

export function principalOf(claims: AccessClaims): Principal {
  return Object.freeze({
    userId: Number(claims.sub),
    roles: Object.freeze([...claims.roles]),
    claims: Object.freeze(claims),
    identityHeaders: Object.freeze({
      [IDENTITY_HEADERS.userId]: claims.sub,
      // Header values must be plain ASCII; an internationalised address travels percent-encoded.
      [IDENTITY_HEADERS.email]: PRINTABLE_ASCII.test(claims.email)
        ? claims.email
        : encodeURIComponent(claims.email),
      [IDENTITY_HEADERS.roles]: claims.roles.join(','),
    }),
  });
}

/** A successful authentication: always carries the caller. */
export type Authenticated = { readonly ok: true; readonly principal: Principal };
