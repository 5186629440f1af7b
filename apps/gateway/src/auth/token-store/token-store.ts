/** A revocation every instance must apply to what it has cached: one token, or all of a user's. */
export interface Revocation {
  readonly sub: string;
  readonly jti?: string;
}

export type RevocationListener = (revocation: Revocation | 'all') => void;

/**
 * Which issued tokens are still live. A token is live from login until it expires or is revoked;
 * checking liveness on every protected request is what makes logout real.
 */
export abstract class TokenStore {
  /** `redis` is shared by every gateway instance; `memory` serves this process only. */
  abstract readonly kind: 'redis' | 'memory';

  /** Records a freshly issued token as live for `ttlMs`. */
  abstract register(jti: string, sub: string, ttlMs: number): Promise<void>;

  /** Whether the token was issued to `sub` and is neither expired nor revoked. */
  abstract isLive(jti: string, sub: string): Promise<boolean>;

  /** Revokes one token. */
  abstract revoke(jti: string, sub: string): Promise<void>;

  /** Revokes every live token of the user, without scanning the store; returns how many. */
  abstract revokeAll(sub: string): Promise<number>;

  /** Throws when the store cannot serve requests right now. */
  abstract ping(): Promise<void>;

  /**
   * True while every revocation made anywhere reaches this instance's listeners within the
   * revocation bound, so a local cache of verified tokens may answer without asking the store.
   */
  abstract cacheCoherent(): boolean;

  /** Called for each revocation, on every instance (`'all'`: drop everything, events may be lost). */
  abstract onRevocation(listener: RevocationListener): void;
}
