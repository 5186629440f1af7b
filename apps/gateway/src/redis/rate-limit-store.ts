import type { RedisConnection } from './redis-connection';

export interface WindowCount {
  readonly count: number;
  /** Milliseconds until the window, and so the count, resets. */
  readonly resetInMs: number;
}

/** Request counts in fixed windows, each starting at its key's first request. */
export abstract class RateLimitStore {
  /** `redis` is shared by every gateway instance; `memory` counts for this process only. */
  abstract readonly kind: 'redis' | 'memory';

  /** Adds one to each key (with the window of the same index) in one step; counts in key order. */
  abstract hit(keys: readonly string[], windowsMs: readonly number[]): Promise<WindowCount[]>;
}

/** Keys kept at most; past it, ended windows are swept and then the oldest keys dropped. */
const MEMORY_MAX_KEYS = 100_000;

export class MemoryRateLimitStore extends RateLimitStore {
  readonly kind = 'memory';
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly clock: () => number = Date.now,
    private readonly maxKeys = MEMORY_MAX_KEYS,
  ) {
    super();
  }

  hit(keys: readonly string[], windowsMs: readonly number[]): Promise<WindowCount[]> {
    const now = this.clock();
    if (this.windows.size >= this.maxKeys) this.sweep(now);
    return Promise.resolve(
      keys.map((key, i) => {
        let window = this.windows.get(key);
        if (!window || window.resetAt <= now) {
          this.windows.delete(key);
          window = { count: 0, resetAt: now + windowsMs[i] };
          this.windows.set(key, window);
        }
        window.count++;
        return { count: window.count, resetInMs: window.resetAt - now };
      }),
    );
  }

  get size(): number {
    return this.windows.size;
  }

  private sweep(now: number): void {
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
    // Still full: the oldest windows (Map order is insertion order) give way.
    for (const key of this.windows.keys()) {
      if (this.windows.size < this.maxKeys) break;
      this.windows.delete(key);
    }
  }
}

/**
 * Counters shared by every gateway instance: `<prefix><key>`, one MULTI round trip for all of a
 * request's keys. `SET NX PX` starts a window at its first request and `INCR` never touches the
 * expiry, so a window ends on time however many instances count in it.
 */
export class RedisRateLimitStore extends RateLimitStore {
  readonly kind = 'redis';

  /** `what` names the counters in the errors of a Redis that cannot answer. */
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
    private readonly what = 'rate-limit',
  ) {
    super();
  }

  hit(keys: readonly string[], windowsMs: readonly number[]): Promise<WindowCount[]> {
    return this.redis.run(this.what, async (c) => {
      const multi = c.multi();
      keys.forEach((key, i) => {
        const k = this.prefix + key;
        multi.set(k, '0', { condition: 'NX', expiration: { type: 'PX', value: windowsMs[i] } });
        multi.incr(k);
        multi.pTTL(k);
      });
      const replies = (await multi.exec()) as unknown[];
      return keys.map((_, i) => ({
        count: Number(replies[i * 3 + 1]),
        resetInMs: Math.max(Number(replies[i * 3 + 2]), 0),
      }));
    });
  }
}
