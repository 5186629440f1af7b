import { fullJitterBackoffMs, isIdempotentMethod, isRetryableStatus } from './retry-rules';

describe('fullJitterBackoffMs', () => {
  const backoff = { baseMs: 10, maxMs: 35 };

  it('should double its bound per try up to the maximum', () => {
    const almostOne = () => 0.999_999;
    expect([1, 2, 3, 4, 40].map((n) => fullJitterBackoffMs(backoff, n, almostOne))).toEqual([
      9, 19, 34, 34, 34,
    ]);
  });

  it('should draw uniformly from zero', () => {
    expect(fullJitterBackoffMs(backoff, 3, () => 0)).toBe(0);
    expect(fullJitterBackoffMs(backoff, 3, () => 0.5)).toBe(17);
  });
});

describe('isIdempotentMethod', () => {
  it('should name the methods RFC 9110 calls idempotent, and no others', () => {
    const methods = [
      'GET',
      'HEAD',
      'OPTIONS',
      'TRACE',
      'PUT',
      'DELETE',
      'POST',
      'PATCH',
      'CONNECT',
    ];
    expect(methods.filter(isIdempotentMethod)).toEqual([
      'GET',
      'HEAD',
      'OPTIONS',
      'TRACE',
      'PUT',
      'DELETE',
    ]);
  });
});

describe('isRetryableStatus', () => {
  it('should take 502, 503 and 504 only', () => {
    const statuses = [200, 404, 429, 500, 501, 502, 503, 504, 505];
    expect(statuses.filter(isRetryableStatus)).toEqual([502, 503, 504]);
  });
});
