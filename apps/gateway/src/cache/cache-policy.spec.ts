import { cacheKey, requestCacheMode, storableTtlMs } from './cache-policy';

describe('requestCacheMode', () => {
  it.each([
    [{}, 'lookup'],
    [{ 'cache-control': 'max-age=60' }, 'lookup'],
    [{ 'cache-control': 'no-cache' }, 'refresh'],
    [{ 'cache-control': 'No-Cache, max-stale' }, 'refresh'],
    [{ 'cache-control': 'max-age=0' }, 'refresh'],
    [{ pragma: 'no-cache' }, 'refresh'],
    [{ 'cache-control': 'no-store' }, 'bypass'],
    [{ 'cache-control': 'no-cache, no-store' }, 'bypass'],
  ])('should read %j as %s', (headers, mode) => {
    expect(requestCacheMode(headers)).toBe(mode);
  });
});

describe('storableTtlMs', () => {
  const ttl = (headers: Record<string, string | string[]>, shared = true, status = 200) =>
    storableTtlMs(status, headers, shared, 30);

  it('should keep a plain 200 for the configured TTL', () => {
    expect(ttl({ 'content-type': 'application/json' })).toBe(30_000);
  });

  it('should keep nothing but 200', () => {
    for (const status of [201, 203, 204, 301, 304, 404, 500]) expect(ttl({}, true, status)).toBe(0);
  });

  it('should never keep a response that sets a cookie', () => {
    expect(ttl({ 'set-cookie': ['a=1'] })).toBe(0);
    expect(ttl({ 'set-cookie': ['a=1'] }, false)).toBe(0);
  });

  it('should honour no-store and no-cache', () => {
    expect(ttl({ 'cache-control': 'no-store' })).toBe(0);
    expect(ttl({ 'cache-control': 'no-store' }, false)).toBe(0);
    expect(ttl({ 'cache-control': 'public, no-cache' })).toBe(0);
  });

  it('should keep private responses in per-user entries only', () => {
    expect(ttl({ 'cache-control': 'private' })).toBe(0);
    expect(ttl({ 'cache-control': 'private, max-age=10' }, false)).toBe(10_000);
  });

  it('should let max-age, or s-maxage for shared entries, shorten but never lengthen the TTL', () => {
    expect(ttl({ 'cache-control': 'max-age=5' })).toBe(5_000);
    expect(ttl({ 'cache-control': 'max-age=3600' })).toBe(30_000);
    expect(ttl({ 'cache-control': 'max-age=20, s-maxage=2' })).toBe(2_000);
    expect(ttl({ 'cache-control': 'max-age=20, s-maxage=2' }, false)).toBe(20_000);
    expect(ttl({ 'cache-control': 'max-age="7"' })).toBe(7_000);
    expect(ttl({ 'cache-control': 'max-age=0' })).toBe(0);
    expect(ttl({ 'cache-control': 'max-age=soon' })).toBe(0);
  });

  it('should refuse Vary: * and Vary on anything but Accept and Accept-Encoding', () => {
    expect(ttl({ vary: 'Accept-Encoding, Accept' })).toBe(30_000);
    expect(ttl({ vary: '*' })).toBe(0);
    expect(ttl({ vary: 'Accept, Cookie' })).toBe(0);
    expect(ttl({ vary: 'Authorization' })).toBe(0);
  });
});

describe('cacheKey', () => {
  it('should separate path, query, caller and the varied request headers', () => {
    const keys = [
      cacheKey('/1', null, {}),
      cacheKey('/1?a=1', null, {}),
      cacheKey('/1', '7\0u@x\0user', {}),
      cacheKey('/1', '8\0v@x\0user', {}),
      cacheKey('/1', '7\0u@x\0user,admin', {}),
      cacheKey('/1', null, { accept: 'text/csv' }),
      cacheKey('/1', null, { 'accept-encoding': 'gzip' }),
    ];
    expect(new Set(keys).size).toBe(keys.length);
    expect(cacheKey('/1', '7\0u@x\0user', { accept: 'x' })).toBe(
      cacheKey('/1', '7\0u@x\0user', { accept: 'x', cookie: 'ignored' }),
    );
  });

  it('should not let a crafted path collide with a per-user key', () => {
    expect(cacheKey('/1', '7', {})).not.toBe(cacheKey('user\u00007\u0000/1', null, {}));
  });
});
