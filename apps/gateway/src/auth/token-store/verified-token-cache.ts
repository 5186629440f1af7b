import type { Authenticated } from '../principal';
import type { Revocation, TokenStore } from './token-store';

interface Entry {
  readonly authenticated: Authenticated;
  /** Wall-clock ms after which the token is expired even with the clock tolerance. */
  readonly validUntil: number;
}

/**
 * Tokens this instance has fully verified (syntax, signature, claims and liveness in the store),
 * keyed by the `Authorization` header value that carried them, so a repeat request skips the
 * parsing, the crypto and the store round trip.
 *
 * It answers only while the store says revocations reach this instance within the bound
 * (`cacheCoherent`). A revocation drops the matching entries; one that lands while a verification
 * is in flight stops that verification from being cached (the epoch check in `put`).
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();
  private readonly bySub = new Map<string, Set<string>>();
  private epochValue = 0;

  constructor(
    private readonly store: TokenStore,
    private readonly maxEntries: number,
  ) {
    store.onRevocation((revocation) => this.invalidate(revocation));
  }

  /** Changes whenever anything is invalidated; taken before a verification and checked by `put`. */
  get epoch(): number {
    return this.epochValue;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string, now: number): Authenticated | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (now >= entry.validUntil) {
      this.remove(key, entry.authenticated.principal.claims.sub);
      return undefined;
    }
    return this.store.cacheCoherent() ? entry.authenticated : undefined;
  }

  /** Caches a verification that started at `epoch`, unless something was revoked meanwhile. */
  put(key: string, authenticated: Authenticated, validUntil: number, epoch: number): void {
    if (epoch !== this.epochValue || !this.store.cacheCoherent()) return;
    if (this.entries.size >= this.maxEntries) this.evictOldest();
    this.entries.set(key, { authenticated, validUntil });
    const sub = authenticated.principal.claims.sub;
    let keys = this.bySub.get(sub);
    if (!keys) this.bySub.set(sub, (keys = new Set()));
    keys.add(key);
  }

  invalidate(revocation: Revocation | 'all'): void {
    this.epochValue++;
    if (revocation === 'all') {
      this.entries.clear();
      this.bySub.clear();
      return;
    }
    const keys = this.bySub.get(revocation.sub);
    if (!keys) return;
    for (const key of keys) {
      const entry = this.entries.get(key);
      if (
        revocation.jti === undefined ||
        entry?.authenticated.principal.claims.jti === revocation.jti
      ) {
        this.remove(key, revocation.sub);
      }
    }
  }

  private remove(key: string, sub: string): void {
    this.entries.delete(key);
    const keys = this.bySub.get(sub);
    keys?.delete(key);
    if (keys?.size === 0) this.bySub.delete(sub);
  }

  private evictOldest(): void {
    const oldest = this.entries.entries().next();
    if (!oldest.done)
      this.remove(oldest.value[0], oldest.value[1].authenticated.principal.claims.sub);
  }
}
