import { PathCanonicalizer } from './path-canonicalizer';

describe('PathCanonicalizer', () => {
  const canonicalizer = new PathCanonicalizer();
  const accept = (target: string) => {
    const result = canonicalizer.canonicalize(target);
    if (!result.ok) throw new Error(`refused ${target}: ${result.reason}`);
    return result;
  };
  const refusal = (target: string | undefined) => {
    const result = canonicalizer.canonicalize(target);
    return result.ok ? undefined : result.reason;
  };

  it('should keep a plain path and split off the raw query', () => {
    expect(accept('/api/users/123?x=1&y=%2F')).toEqual({
      ok: true,
      path: '/api/users/123',
      query: '?x=1&y=%2F',
    });
  });

  it('should keep the root path', () => {
    expect(accept('/')).toEqual({ ok: true, path: '/', query: '' });
    expect(accept('/?a')).toEqual({ ok: true, path: '/', query: '?a' });
  });

  it('should drop one trailing slash', () => {
    expect(accept('/api/users/').path).toBe('/api/users');
  });

  it('should decode escaped unreserved characters only', () => {
    expect(accept('/%41%7a%30%2D%5f%7E').path).toBe('/Az0-_~');
    expect(accept('/a%20b%3a%c3%a9').path).toBe('/a%20b%3A%C3%A9');
  });

  it('should keep the case of the path', () => {
    expect(accept('/API/Users').path).toBe('/API/Users');
  });

  it.each([
    ['/a/../b', 'dot segment in path'],
    ['/a/..', 'dot segment in path'],
    ['/./a', 'dot segment in path'],
    ['/a/%2e%2e/b', 'percent-encoded "/", "\\", "." or NUL in path'],
    ['/a/%2E', 'percent-encoded "/", "\\", "." or NUL in path'],
    ['/a%2fb', 'percent-encoded "/", "\\", "." or NUL in path'],
    ['/a%2Fb', 'percent-encoded "/", "\\", "." or NUL in path'],
    ['/a%5cb', 'percent-encoded "/", "\\", "." or NUL in path'],
    ['/a%00', 'percent-encoded "/", "\\", "." or NUL in path'],
    ['/a\\b', 'backslash in path'],
    ['/a\u0000b', 'control, space or non-ASCII character in path'],
    ['/a b', 'control, space or non-ASCII character in path'],
    ['/é', 'control, space or non-ASCII character in path'],
    ['/a%', 'invalid percent-encoding in path'],
    ['/a%4', 'invalid percent-encoding in path'],
    ['/a%g0', 'invalid percent-encoding in path'],
    ['//a', 'empty path segment'],
    ['/a//b', 'empty path segment'],
    ['/a//', 'empty path segment'],
    ['/a#b', 'fragment in request target'],
    ['a/b', 'the request target must start with "/"'],
    ['*', 'the request target must start with "/"'],
    ['http://host/a', 'the request target must start with "/"'],
    ['', 'the request target must start with "/"'],
  ])('should refuse %j', (target, reason) => {
    expect(refusal(target)).toBe(reason);
  });

  it.each([
    ['/../a b', 'control, space or non-ASCII character in path'],
    ['//a\\b', 'backslash in path'],
    ['/a/../%zz', 'invalid percent-encoding in path'],
    ['/./a//b', 'dot segment in path'],
    ['/a//./b', 'empty path segment'],
  ])(
    'should give the character problem before the segment problem, the first segment first: %j',
    (target, reason) => {
      expect(refusal(target)).toBe(reason);
    },
  );

  it('should refuse a missing target', () => {
    expect(refusal(undefined)).toBe('the request target must start with "/"');
  });

  it('should accept segments that only contain dots among other characters', () => {
    expect(accept('/a.b/...').path).toBe('/a.b/...');
  });

  it('should ignore what is in the query', () => {
    expect(accept('/a?../%2F\\').query).toBe('?../%2F\\');
  });
});
