import { LogThrottle } from '@app/common';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { authConfig } from './auth.config';
import { AuthPolicy } from '../routing/auth-policy';
import { MAX_AUTHORIZATION_LENGTH, parseBearer } from './bearer-token';
import { CredentialsClient } from './credentials.client';
import { LoginRateLimiter } from './login-rate-limiter';
import { AccessClaims, Authenticated, Principal, principalOf } from './principal';
import { RedisUnavailableError } from '../redis/redis-connection';
import { TokenStore } from './token-store/token-store';
import { VerifiedTokenCache } from './token-store/verified-token-cache';
import { TokenVerifier } from './token-verifier';

/** The decision for one request: go ahead (with the caller, if the route needed one) or refuse. */
export type AuthOutcome =
  | { readonly ok: true; readonly principal?: Principal }
  | {
      readonly ok: false;
      readonly status: 401 | 403 | 503;
      readonly message: string;
      /** The `WWW-Authenticate` challenge to send with a 401 or 403. */
      readonly challenge?: string;
    };

type Refusal = Extract<AuthOutcome, { ok: false }>;

export interface TokenResponse {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

export type LoginResult =
  | { readonly kind: 'ok'; readonly token: TokenResponse }
  | { readonly kind: 'invalid' }
  | { readonly kind: 'limited'; readonly retryAfterSeconds: number }
  | { readonly kind: 'unavailable'; readonly message: string };

const PASS: AuthOutcome = Object.freeze({ ok: true });
const MISSING_TOKEN: Refusal = Object.freeze({
  ok: false,
  status: 401,
  message: 'authentication required',
  challenge: 'Bearer',
});
const STORE_DOWN: Refusal = Object.freeze({
  ok: false,
  status: 503,
  message: 'authentication is temporarily unavailable',
});

function invalidToken(description: string): Refusal {
  return {
    ok: false,
    status: 401,
    message: description,
    challenge: `Bearer error="invalid_token", error_description="${description}"`,
  };
}

/**
 * Authentication for the whole gateway: login, logout, and the one check of a request against a
 * route's policy. The request pipeline's Authorization step and the Nest guard both call `authorize`, so every rule
 * (token syntax, size, signature, claims, liveness, role) exists once.
 */
@Injectable()
export class AuthService implements OnModuleInit {
  private readonly logger = new Logger(AuthService.name);
  private readonly cache?: VerifiedTokenCache;
  private readonly toleranceMs: number;
  private readonly storeDownLog = new LogThrottle();

  constructor(
    private readonly verifier: TokenVerifier,
    private readonly store: TokenStore,
    private readonly limiter: LoginRateLimiter,
    private readonly credentials: CredentialsClient,
    @Inject(authConfig.KEY) private readonly config: ConfigType<typeof authConfig>,
  ) {
    this.toleranceMs = config.clockToleranceSeconds * 1000;
    if (config.tokenCache.enabled) {
      this.cache = new VerifiedTokenCache(store, config.tokenCache.maxEntries);
    }
  }

  onModuleInit(): void {
    if (this.store.kind === 'memory') {
      this.logger.warn(
        'REDIS_URL is not set: tokens, revocations and login limits are kept in this process. ' +
          'This serves ONE gateway instance only; set REDIS_URL to run several.',
      );
    }
  }

  /**
   * Decides whether a request with this `Authorization` header may use a route with this policy.
   * Synchronous when the answer needs no I/O (public route, bad header, cached token).
   */
  authorize(
    policy: AuthPolicy,
    authorization: string | undefined,
  ): AuthOutcome | Promise<AuthOutcome> {
    if (policy.kind === 'public') return PASS;
    const now = Date.now();
    // The cache is keyed by the whole header value, which was fully checked before it was cached.
    if (
      authorization !== undefined &&
      authorization.length <= MAX_AUTHORIZATION_LENGTH &&
      this.cache !== undefined
    ) {
      const cached = this.cache.get(authorization, now);
      if (cached !== undefined) return permit(policy, cached);
    }
    const bearer = parseBearer(authorization);
    if (bearer.kind === 'missing') return MISSING_TOKEN;
    if (bearer.kind === 'malformed') return invalidToken(bearer.reason);
    return this.verify(authorization!, bearer.token, now).then((outcome) =>
      outcome.ok ? permit(policy, outcome) : outcome,
    );
  }

  async login(
    email: string,
    password: string,
    clientIp: string,
    requestId?: string,
  ): Promise<LoginResult> {
    try {
      const admission = await this.limiter.admit(clientIp, email);
      if (!admission.allowed) {
        return { kind: 'limited', retryAfterSeconds: admission.retryAfterSeconds };
      }
    } catch (err) {
      this.logStoreError(err);
      return { kind: 'unavailable', message: 'login is temporarily unavailable' };
    }
    const check = await this.credentials.verify(email, password, requestId);
    if (check.kind === 'invalid') return { kind: 'invalid' };
    if (check.kind === 'unavailable') {
      return { kind: 'unavailable', message: 'user service unavailable' };
    }
    const issued = await this.verifier.sign(check.user);
    const ttlMs = issued.claims.exp * 1000 - Date.now();
    try {
      await this.store.register(issued.claims.jti, issued.claims.sub, ttlMs);
    } catch (err) {
      this.logStoreError(err);
      return { kind: 'unavailable', message: 'login is temporarily unavailable' };
    }
    return {
      kind: 'ok',
      token: { accessToken: issued.token, tokenType: 'Bearer', expiresIn: this.config.ttlSeconds },
    };
  }

  /** Revokes the caller's token on every instance. Throws `RedisUnavailableError`. */
  async logout(principal: Principal): Promise<void> {
    const { jti, sub } = principal.claims;
    this.cache?.invalidate({ sub, jti });
    await this.store.revoke(jti, sub);
  }

  /** Revokes every token of the caller's user. Throws `RedisUnavailableError`. */
  async logoutAll(principal: Principal): Promise<number> {
    const { sub } = principal.claims;
    this.cache?.invalidate({ sub });
    return this.store.revokeAll(sub);
  }

  private async verify(
    header: string,
    token: string,
    now: number,
  ): Promise<Authenticated | Refusal> {
    const epoch = this.cache?.epoch ?? 0;
    const verification = this.verifier.verify(token, now);
    if (!verification.ok) return invalidToken(verification.description);
    const claims: AccessClaims = verification.claims;
    let live: boolean;
    try {
      live = await this.store.isLive(claims.jti, claims.sub);
    } catch (err) {
      this.logStoreError(err);
      return STORE_DOWN;
    }
    if (!live) return invalidToken('token revoked');
    const authenticated: Authenticated = Object.freeze({
      ok: true,
      principal: principalOf(claims),
    });
    this.cache?.put(header, authenticated, claims.exp * 1000 + this.toleranceMs, epoch);
    return authenticated;
  }

  private logStoreError(err: unknown): void {
    if (!(err instanceof RedisUnavailableError)) throw err;
    if (!this.storeDownLog.allow()) return;
    this.logger.error({
      msg: 'token store unavailable; protected routes answer 503',
      error: err.message,
    });
  }
}

/** The caller's outcome for this route: itself (shared, never copied) or 403 when a role is missing. */
function permit(policy: AuthPolicy, authenticated: Authenticated): AuthOutcome {
  if (policy.kind === 'role' && !authenticated.principal.roles.includes(policy.role)) {
    return {
      ok: false,
      status: 403,
      message: `requires role ${policy.role}`,
      challenge: `Bearer error="insufficient_scope", error_description="requires role ${policy.role}"`,
    };
  }
  return authenticated;
}
