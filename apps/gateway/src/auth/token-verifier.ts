import { ROLE_NAME } from '@app/contracts';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { JwtService } from '@nestjs/jwt';
import { JsonWebTokenError, NotBeforeError, TokenExpiredError } from 'jsonwebtoken';
import { randomUUID } from 'node:crypto';
import { authConfig, MIN_SECRET_BYTES } from './auth.config';
import { checkJoseStructure } from './jose-structure';
import { AccessClaims } from './principal';

export type Verification =
  | { readonly ok: true; readonly claims: AccessClaims }
  | { readonly ok: false; readonly description: string };

/** What the gateway signs for a user that user-service vouched for. */
export interface TokenSubject {
  id: number;
  email: string;
  roles: string[];
}

export interface IssuedToken {
  token: string;
  claims: AccessClaims;
}

const USER_ID = /^[1-9]\d{0,15}$/;
const JTI = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_ROLES = 32;

/**
 * Signs access tokens and checks them: the token's structure (`checkJoseStructure`: no JWE, no
 * duplicate members, no `crit`, an access-token `typ`), the configured algorithm only, signature, `exp`/`nbf`
 * (with the documented clock tolerance), `iat` not in the future, issuer, audience and the shape of
 * every claim the gateway relies on. Keys and options come from the JwtModule registration.
 */
@Injectable()
export class TokenVerifier implements OnModuleInit {
  private readonly logger = new Logger(TokenVerifier.name);

  constructor(
    private readonly jwt: JwtService,
    @Inject(authConfig.KEY) private readonly config: ConfigType<typeof authConfig>,
  ) {}

  onModuleInit(): void {
    const keys = this.config.keys;
    if (keys.algorithm !== 'HS256') return;
    if (keys.generated) {
      this.logger.warn(
        'JWT_SECRET is not set: using a random secret made at start. Tokens die with this process and ' +
          'are not accepted by other gateway instances. Set JWT_SECRET or JWT_SECRET_FILE.',
      );
    } else if (keys.secret.length < MIN_SECRET_BYTES) {
      this.logger.warn(
        `JWT_SECRET has ${keys.secret.length} bytes; production requires at least ${MIN_SECRET_BYTES}.`,
      );
    }
  }

  async sign(subject: TokenSubject, now = Date.now()): Promise<IssuedToken> {
    const iat = Math.floor(now / 1000);
    const claims: AccessClaims = {
      sub: String(subject.id),
      email: subject.email,
      roles: [...subject.roles],
      iat,
      exp: iat + this.config.ttlSeconds,
      jti: randomUUID(),
      iss: this.config.issuer,
      aud: this.config.audience,
    };
    // Every registered claim is set explicitly, so the signer adds nothing of its own.
    const token = await this.jwt.signAsync({ ...claims });
    return { token, claims };
  }

  verify(token: string, now = Date.now()): Verification {
    const structure = checkJoseStructure(token);
    if (structure !== null) return refuse(structure);
    let payload: unknown;
    try {
      payload = this.jwt.verify(token, { clockTimestamp: Math.floor(now / 1000) });
    } catch (err) {
      return { ok: false, description: describe(err) };
    }
    return this.checkClaims(payload, now);
  }

  private checkClaims(payload: unknown, now: number): Verification {
    if (typeof payload !== 'object' || payload === null) return refuse('malformed token');
    const p = payload as Record<string, unknown>;
    if (typeof p.sub !== 'string' || !USER_ID.test(p.sub)) return refuse('missing or invalid sub');
    if (typeof p.exp !== 'number') return refuse('missing exp');
    if (typeof p.iat !== 'number') return refuse('missing iat');
    if (p.iat > now / 1000 + this.config.clockToleranceSeconds)
      return refuse('token issued in the future');
    if (typeof p.jti !== 'string' || !JTI.test(p.jti)) return refuse('missing or invalid jti');
    if (typeof p.email !== 'string' || p.email.length > 254)
      return refuse('missing or invalid email');
    // RFC 7519 §4.1.3: a list is allowed; jsonwebtoken has already checked that ours is in it.
    const aud = p.aud;
    if (typeof aud !== 'string' && !(Array.isArray(aud) && aud.every((a) => typeof a === 'string')))
      return refuse('invalid audience');
    if (typeof p.iss !== 'string') return refuse('invalid audience');
    const roles = p.roles;
    if (
      !Array.isArray(roles) ||
      roles.length > MAX_ROLES ||
      !roles.every((r) => typeof r === 'string' && ROLE_NAME.test(r))
    ) {
      return refuse('missing or invalid roles');
    }
    const claims: AccessClaims = {
      sub: p.sub,
      email: p.email,
      roles: roles as string[],
      iat: p.iat,
      exp: p.exp,
      jti: p.jti,
      iss: p.iss,
      // The audience the gateway stands for, which the token names (alone or in a list).
      aud: this.config.audience,
    };
    if (typeof p.nbf === 'number') claims.nbf = p.nbf;
    return { ok: true, claims };
  }
}

function refuse(description: string): Verification {
  return { ok: false, description };
}

/** A fixed description per failure: nothing from the token is echoed into the response header. */
function describe(err: unknown): string {
  if (err instanceof TokenExpiredError) return 'token expired';
  if (err instanceof NotBeforeError) return 'token not active yet';
  if (err instanceof JsonWebTokenError) {
    const message = err.message;
    if (message === 'invalid signature') return 'invalid signature';
    if (message === 'invalid algorithm' || message.startsWith('jwt signature is required')) {
      return 'algorithm not allowed';
    }
    if (message.startsWith('jwt issuer invalid')) return 'wrong issuer';
    if (message.startsWith('jwt audience invalid')) return 'wrong audience';
    if (message === 'invalid exp value' || message === 'invalid nbf value') return message;
  }
  return 'malformed token';
}
