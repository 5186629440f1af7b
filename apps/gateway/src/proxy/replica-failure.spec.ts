import { isReplicaFailure } from './replica-failure';

describe('isReplicaFailure', () => {
  it.each([502, 503, 504])('should count a bare %d', (status) => {
    expect(isReplicaFailure(status, {})).toBe(true);
    expect(isReplicaFailure(status, { 'content-type': 'text/html' })).toBe(true);
  });

  it.each([
    ['a JSON body', { 'content-type': 'application/json; charset=utf-8' }],
    ['a problem+json body', { 'content-type': 'application/problem+json' }],
    ['Retry-After', { 'retry-after': '2', 'content-type': 'text/plain' }],
    ['X-Dependency-Unavailable', { 'x-dependency-unavailable': 'product-service' }],
  ])('should not count a 503 with %s: the replica answered', (_what, headers) => {
    expect(isReplicaFailure(503, headers)).toBe(false);
  });

  it('should not take a type that only mentions json for JSON', () => {
    expect(isReplicaFailure(502, { 'content-type': 'text/jsonish' })).toBe(true);
  });

  it.each([200, 404, 429, 500, 501])('should never count %d', (status) => {
    expect(isReplicaFailure(status, {})).toBe(false);
  });
});
