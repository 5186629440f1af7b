import { addressOrigin, resolvableHost } from './target-names';

describe('target names', () => {
  it.each([
    ['http://tasks.product-service:3001', 'tasks.product-service'],
    ['https://api.internal', 'api.internal'],
    ['http://127.0.0.1:3001', null],
    ['http://[::1]:3001', null],
    ['http://localhost:3001', null],
  ])('should resolve the host of %s: %s', (origin, host) => {
    expect(resolvableHost(origin)).toBe(host);
  });

  it('should build the origin of an address with the name target scheme and port', () => {
    expect(addressOrigin('http://tasks.svc:3001', '10.0.0.5')).toBe('http://10.0.0.5:3001');
    expect(addressOrigin('http://tasks.svc:3001', 'fd00::5')).toBe('http://[fd00::5]:3001');
    expect(addressOrigin('https://tasks.svc', '10.0.0.5')).toBe('https://10.0.0.5');
  });
});
