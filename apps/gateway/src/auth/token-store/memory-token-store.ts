import { OnModuleDestroy } from '@nestjs/common';
import { RevocationListener, TokenStore } from './token-store';

interface LiveToken {
  sub: string;
  expiresAt: number;
}

/** Expired entries are swept this often, so an idle store does not keep them. */
const SWEEP_INTERVAL_MS = 60_000;

/** The store for a single gateway instance (no `REDIS_URL`): tokens and revocations live in this process. */
export class MemoryTokenStore extends TokenStore implements OnModuleDestroy {
  readonly kind = 'memory';
  private readonly tokens = new Map<string, LiveToken>();
  private readonly byUser = new Map<string, Set<string>>();
  private readonly listeners: RevocationListener[] = [];
  private readonly sweeper = setInterval(() => this.sweep(Date.now()), SWEEP_INTERVAL_MS);

  constructor(private readonly clock: () => number = Date.now) {
    super();
    this.sweeper.unref();
  }

  register(jti: string, sub: string, ttlMs: number): Promise<void> {
    this.tokens.set(jti, { sub, expiresAt: this.clock() + ttlMs });
    let jtis = this.byUser.get(sub);
    if (!jtis) this.byUser.set(sub, (jtis = new Set()));
    jtis.add(jti);
    return Promise.resolve();
  }

  isLive(jti: string, sub: string): Promise<boolean> {
    const token = this.tokens.get(jti);
    return Promise.resolve(!!token && token.sub === sub && token.expiresAt > this.clock());
  }

  revoke(jti: string, sub: string): Promise<void> {
    const token = this.tokens.get(jti);
    if (token && token.sub === sub) {
      this.tokens.delete(jti);
      this.byUser.get(sub)?.delete(jti);
    }
    this.emit({ sub, jti });
    return Promise.resolve();
  }

  revokeAll(sub: string): Promise<number> {
    const jtis = this.byUser.get(sub) ?? new Set<string>();
    for (const jti of jtis) this.tokens.delete(jti);
    this.byUser.delete(sub);
    this.emit({ sub });
    return Promise.resolve(jtis.size);
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  cacheCoherent(): boolean {
    return true;
  }

  onRevocation(listener: RevocationListener): void {
    this.listeners.push(listener);
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  /** Drops expired tokens; exposed for tests. */
  sweep(now: number): void {
    for (const [jti, token] of this.tokens) {
      if (token.expiresAt > now) continue;
      this.tokens.delete(jti);
      const jtis = this.byUser.get(token.sub);
      jtis?.delete(jti);
      if (jtis?.size === 0) this.byUser.delete(token.sub);
    }
  }

  private emit(revocation: { sub: string; jti?: string }): void {
    for (const listener of this.listeners) listener(revocation);
  }
}
