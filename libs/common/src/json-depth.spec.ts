import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-depth';

describe('nestsDeeperThan', () => {
  const nested = (levels: number): unknown => JSON.parse('['.repeat(levels) + ']'.repeat(levels));

  it('should count each object or array as one level, scalars as none', () => {
    expect(nestsDeeperThan('text', 0)).toBe(false);
    expect(nestsDeeperThan(undefined, 0)).toBe(false);
    expect(nestsDeeperThan({}, 0)).toBe(true);
    expect(nestsDeeperThan({ a: 1 }, 1)).toBe(false);
    expect(nestsDeeperThan({ a: [1] }, 1)).toBe(true);
    expect(nestsDeeperThan({ a: [{ b: 'c' }] }, 3)).toBe(false);
  });

  it('should accept exactly the maximum and refuse one level more', () => {
    expect(nestsDeeperThan(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
    expect(nestsDeeperThan(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toBe(true);
  });

  it('should find a deep branch beside shallow ones without overflowing on 100 000 levels', () => {
    expect(nestsDeeperThan({ a: 1, b: [2], c: nested(40) }, MAX_JSON_DEPTH)).toBe(true);
    expect(nestsDeeperThan(nested(100_000), MAX_JSON_DEPTH)).toBe(true);
  });
});
