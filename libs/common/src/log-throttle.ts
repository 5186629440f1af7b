/** How often a dependency that stays down (a store, a cache) is logged again, whatever the request rate. */
export const STORE_DOWN_LOG_INTERVAL_MS = 5_000;

/**
 * Lets one log line through per interval: a store that is down fails every request, and one line
 * per request would bury everything else. Log when `allow()` says so.
 */
export class LogThrottle {
  private last = -Infinity;

  constructor(
    private readonly intervalMs: number = STORE_DOWN_LOG_INTERVAL_MS,
    private readonly clock: () => number = Date.now,
  ) {}

  /** True for the first call and then at most once per interval. */
  allow(): boolean {
    const now = this.clock();
    if (now - this.last < this.intervalMs) return false;
    this.last = now;
    return true;
  }
}
