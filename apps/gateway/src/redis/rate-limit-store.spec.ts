import { MemoryRateLimitStore } from './rate-limit-store';

describe('MemoryRateLimitStore', () => {
  let now: number;
  beforeEach(() => (now = 10_000));

  it('should count each key in its own fixed window from its first request', async () => {
    const store = new MemoryRateLimitStore(() => now);
    await expect(store.hit(['a', 'b'], [1_000, 5_000])).resolves.toEqual([
      { count: 1, resetInMs: 1_000 },
      { count: 1, resetInMs: 5_000 },
    ]);
    now += 400;
    await expect(store.hit(['a', 'b'], [1_000, 5_000])).resolves.toEqual([
      { count: 2, resetInMs: 600 },
      { count: 2, resetInMs: 4_600 },
    ]);
    now += 600;
    await expect(store.hit(['a'], [1_000])).resolves.toEqual([{ count: 1, resetInMs: 1_000 }]);
  });

  it('should stay within its key bound', async () => {
    const store = new MemoryRateLimitStore(() => now, 100);
    for (let i = 0; i < 250; i++) await store.hit([`k${i}`], [60_000]);
    expect(store.size).toBeLessThanOrEqual(100);
    await expect(store.hit(['k249'], [60_000])).resolves.toEqual([{ count: 2, resetInMs: 60_000 }]);
  });
});
