import type { OutgoingHttpHeaders } from 'node:http';
import { mergeHeaders } from './header-merge';

describe('mergeHeaders', () => {
  it('should keep every value of a list header once, in order, whatever its case', () => {
    const into: OutgoingHttpHeaders = { vary: 'Accept, origin' };
    mergeHeaders(into, { vary: 'Origin, Accept-Encoding' });
    expect(into.vary).toBe('Accept, origin, Accept-Encoding');
  });

  it('should leave Vary: * alone, as it already covers every header', () => {
    const star: OutgoingHttpHeaders = { vary: '*' };
    mergeHeaders(star, { vary: 'Origin' });
    expect(star.vary).toBe('*');
    const added: OutgoingHttpHeaders = { vary: 'Accept' };
    mergeHeaders(added, { vary: '*' });
    expect(added.vary).toBe('*');
  });

  it('should replace any other header and set an absent one', () => {
    const into: OutgoingHttpHeaders = { 'ratelimit-limit': '10' };
    mergeHeaders(into, { 'ratelimit-limit': '5', 'retry-after': '1', vary: 'Origin' });
    expect(into).toEqual({ 'ratelimit-limit': '5', 'retry-after': '1', vary: 'Origin' });
  });
});
