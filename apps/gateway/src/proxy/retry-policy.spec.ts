import { RetryPolicy } from './retry-policy';

describe('RetryPolicy', () => {
  const config = { attempts: 3, backoffBaseMs: 100, backoffMaxMs: 250 };

  it.each([
    ['GET', false, true],
    ['HEAD', false, true],
    ['OPTIONS', false, true],
    ['PUT', false, true],
    ['DELETE', false, true],
    ['POST', false, false],
    ['PATCH', false, false],
    ['POST', true, true],
    ['PATCH', true, true],
    ['CONNECT', true, false],
  ])('should call %s (Idempotency-Key: %s) replay-safe: %s', (method, keyed, safe) => {
    expect(new RetryPolicy(config, true).isReplaySafe(method, keyed)).toBe(safe);
  });

  it.each(['POST', 'PATCH'])(
    'should never call a keyed %s replay-safe for a service that does not honour keys',
    (method) => {
      expect(new RetryPolicy(config, false).isReplaySafe(method, true)).toBe(false);
      expect(new RetryPolicy(config, false).isReplaySafe('GET', false)).toBe(true);
    },
  );

  it('should always retry a request whose bytes were never sent, within the attempt limit', () => {
    const policy = new RetryPolicy(config, false);
    expect(policy.shouldRetry(1, false, false)).toBe(true);
    expect(policy.shouldRetry(2, false, false)).toBe(true);
    expect(policy.shouldRetry(3, false, false)).toBe(false);
  });

  it('should retry a sent request only when it is replay-safe', () => {
    const policy = new RetryPolicy(config, false);
    expect(policy.shouldRetry(1, true, false)).toBe(false);
    expect(policy.shouldRetry(1, true, true)).toBe(true);
    expect(policy.shouldRetry(3, true, true)).toBe(false);
  });

  it.each([502, 503, 504])(
    'should retry a %i to a replay-safe request, except on the last attempt',
    (status) => {
      const policy = new RetryPolicy(config, false);
      expect(policy.retriesStatus(status, 1, true)).toBe(true);
      expect(policy.retriesStatus(status, 2, true)).toBe(true);
      expect(policy.retriesStatus(status, 3, true)).toBe(false);
      expect(policy.retriesStatus(status, 1, false)).toBe(false);
    },
  );

  it('should never retry a failure once the client body stream is spent', () => {
    const policy = new RetryPolicy(config, false);
    expect(policy.retriesFailure(1, false, false, false)).toBe(true);
    expect(policy.retriesFailure(1, false, true, true)).toBe(false);
    expect(policy.retriesFailure(1, true, true, false)).toBe(true);
    expect(policy.retriesFailure(3, false, true, false)).toBe(false);
  });

  it.each([200, 404, 500, 501, 429])('should never retry a %i answer', (status) => {
    expect(new RetryPolicy(config, false).retriesStatus(status, 1, true)).toBe(false);
  });

  it('should double the backoff ceiling up to the cap', () => {
    const policy = new RetryPolicy(config, false, () => 0.9999);
    expect([1, 2, 3, 4].map((n) => policy.backoffMs(n))).toEqual([99, 199, 249, 249]);
  });

  it('should draw full jitter from zero', () => {
    const policy = new RetryPolicy(config, false, () => 0);
    expect(policy.backoffMs(2)).toBe(0);
    const random = new RetryPolicy(config, false);
    for (let i = 0; i < 1000; i++) {
      const wait = random.backoffMs(2);
      expect(wait).toBeGreaterThanOrEqual(0);
      expect(wait).toBeLessThan(200);
    }
  });
});
