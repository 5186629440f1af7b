import { MemoryRateLimitStore } from '../redis/rate-limit-store';
import { LoginRateLimiter } from './login-rate-limiter';

describe('LoginRateLimiter', () => {
  let now: number;
  let limiter: LoginRateLimiter;

  beforeEach(() => {
    now = 0;
    limiter = new LoginRateLimiter(new MemoryRateLimitStore(() => now), {
      perIp: 3,
      perEmail: 2,
      windowSeconds: 60,
    });
  });

  it('should allow the per-email limit and refuse the next with the time left', async () => {
    await expect(limiter.admit('10.0.0.1', 'a@example.com')).resolves.toEqual({ allowed: true });
    now = 20_000;
    await expect(limiter.admit('10.0.0.2', 'A@Example.com ')).resolves.toEqual({ allowed: true });
    now = 30_500;
    await expect(limiter.admit('10.0.0.3', 'a@example.com')).resolves.toEqual({
      allowed: false,
      retryAfterSeconds: 30,
    });
    await expect(limiter.admit('10.0.0.3', 'b@example.com')).resolves.toEqual({ allowed: true });
  });

  it('should limit one address across emails', async () => {
    for (const email of ['a@x.io', 'b@x.io', 'c@x.io']) {
      await expect(limiter.admit('10.0.0.1', email)).resolves.toEqual({ allowed: true });
    }
    await expect(limiter.admit('10.0.0.1', 'd@x.io')).resolves.toMatchObject({ allowed: false });
    await expect(limiter.admit('10.0.0.2', 'd@x.io')).resolves.toEqual({ allowed: true });
  });

  it('should start a fresh window after the old one ends', async () => {
    for (let i = 0; i < 3; i++) await limiter.admit('10.0.0.1', `${i}@x.io`);
    await expect(limiter.admit('10.0.0.1', 'z@x.io')).resolves.toMatchObject({ allowed: false });
    now = 60_000;
    await expect(limiter.admit('10.0.0.1', 'z@x.io')).resolves.toEqual({ allowed: true });
  });
});
