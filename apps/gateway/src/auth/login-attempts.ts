import { createHash } from 'node:crypto';
import { RedisConnection } from './token-store/redis-connection';

export interface WindowCount {
  count: number;
  /** Milliseconds until the window, and so the count, resets. */
  resetInMs: number;
}

/** Counts events per key in fixed windows; the Redis one is shared by every gateway instance. */
export abstract class AttemptCounter {
  /** Adds one to each key and returns the counts in the same order. */
  abstract hit(keys: string[], windowMs: number): Promise<WindowCount[]>;
}

export class MemoryAttemptCounter extends AttemptCounter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(private readonly clock: () => number = Date.now) {
    super();
  }

  hit(keys: string[], windowMs: number): Promise<WindowCount[]> {
    const now = this.clock();
    if (this.windows.size > 100_000) this.sweep(now);
    return Promise.resolve(
      keys.map((key) => {
        let window = this.windows.get(key);
        if (!window || window.resetAt <= now) {
          window = { count: 0, resetAt: now + windowMs };
          this.windows.set(key, window);
        }
        window.count++;
        return { count: window.count, resetInMs: window.resetAt - now };
      }),
    );
  }

  private sweep(now: number): void {
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
  }
}

export class RedisAttemptCounter extends AttemptCounter {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keyPrefix: string,
  ) {
    super();
  }

  hit(keys: string[], windowMs: number): Promise<WindowCount[]> {
    return this.redis.run('login-limit', async (c) => {
      const multi = c.multi();
      for (const key of keys) {
        const k = `${this.keyPrefix}auth:login:${key}`;
        // SET NX PX starts the window on the first hit; INCR never touches the expiry.
        multi.set(k, '0', { condition: 'NX', expiration: { type: 'PX', value: windowMs } });
        multi.incr(k);
        multi.pTTL(k);
      }
      const replies = (await multi.exec()) as unknown[];
      return keys.map((_, i) => ({
        count: Number(replies[i * 3 + 1]),
        resetInMs: Math.max(Number(replies[i * 3 + 2]), 0),
      }));
    });
  }
}

export interface LoginLimits {
  perIp: number;
  perEmail: number;
  windowSeconds: number;
}

export type LoginAdmission = { allowed: true } | { allowed: false; retryAfterSeconds: number };

const ALLOWED: LoginAdmission = Object.freeze({ allowed: true });

/**
 * Login attempts per client address and per email address, counted before the password is checked
 * (so guessing costs attempts whatever the answer). Emails are hashed so keys carry no address.
 */
export class LoginRateLimiter {
  constructor(
    private readonly counter: AttemptCounter,
    private readonly limits: LoginLimits,
  ) {}

  async admit(clientIp: string, email: string): Promise<LoginAdmission> {
    const emailKey = createHash('sha256').update(email.trim().toLowerCase()).digest('base64url');
    const [ip, mail] = await this.counter.hit(
      [`ip:${clientIp}`, `email:${emailKey}`],
      this.limits.windowSeconds * 1000,
    );
    const over = [
      ip.count > this.limits.perIp ? ip.resetInMs : -1,
      mail.count > this.limits.perEmail ? mail.resetInMs : -1,
    ].filter((ms) => ms >= 0);
    if (over.length === 0) return ALLOWED;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(Math.max(...over) / 1000)) };
  }
}
