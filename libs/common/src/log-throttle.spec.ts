import { LogThrottle, STORE_DOWN_LOG_INTERVAL_MS } from './log-throttle';

describe('LogThrottle', () => {
  it('should let the first line through, then one per interval', () => {
    let now = 1_000;
    const throttle = new LogThrottle(100, () => now);
    const allowed: number[] = [];
    for (; now <= 1_350; now += 25) if (throttle.allow()) allowed.push(now);
    expect(allowed).toEqual([1_000, 1_100, 1_200, 1_300]);
  });

  it('should use the store-down interval when none is given', () => {
    let now = 0;
    const throttle = new LogThrottle(undefined, () => now);
    expect(throttle.allow()).toBe(true);
    now = STORE_DOWN_LOG_INTERVAL_MS - 1;
    expect(throttle.allow()).toBe(false);
    now = STORE_DOWN_LOG_INTERVAL_MS;
    expect(throttle.allow()).toBe(true);
  });
});
