import type { OutgoingHttpHeaders } from 'node:http';
import { CorsPolicy, isPreflight } from './cors-policy';

const config = {
  origins: ['https://shop.example.com'],
  credentials: true,
  methods: ['GET', 'POST'],
  allowHeaders: ['content-type'],
  exposeHeaders: ['x-request-id'],
  maxAgeSeconds: 60,
};

describe('CorsPolicy', () => {
  const policy = new CorsPolicy(config);

  it('should allow a listed origin exactly', () => {
    expect(policy.allowedOrigin('https://shop.example.com')).toBe('https://shop.example.com');
    expect(policy.allowedOrigin('https://shop.example.com:443')).toBeUndefined();
    expect(policy.allowedOrigin('https://SHOP.example.com')).toBeUndefined();
    expect(policy.allowedOrigin('null')).toBeUndefined();
    expect(policy.allowedOrigin(undefined)).toBeUndefined();
  });

  it('should answer a preflight with the configured lists', () => {
    expect(policy.preflightHeaders('https://shop.example.com')).toEqual({
      'access-control-allow-origin': 'https://shop.example.com',
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'content-type',
      'access-control-max-age': '60',
      vary: 'Origin',
    });
    expect(policy.preflightHeaders('https://evil.example.com')).toEqual({ vary: 'Origin' });
  });

  it('should add Origin to an existing Vary once', () => {
    const headers: OutgoingHttpHeaders = { vary: 'Accept-Encoding' };
    policy.decorate(headers, 'https://evil.example.com');
    expect(headers).toEqual({ vary: 'Accept-Encoding, Origin' });
    const already: OutgoingHttpHeaders = { vary: 'origin' };
    policy.decorate(already, undefined);
    expect(already.vary).toBe('origin');
    const everything: OutgoingHttpHeaders = { vary: '*' };
    policy.decorate(everything, undefined);
    expect(everything.vary).toBe('*');
  });

  it('should answer * for any origin only without credentials', () => {
    const open = new CorsPolicy({ ...config, origins: ['*'], credentials: false });
    const headers: OutgoingHttpHeaders = {};
    open.decorate(headers, 'https://anyone.example');
    expect(headers['access-control-allow-origin']).toBe('*');
    expect(headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('should recognise a preflight', () => {
    expect(
      isPreflight('OPTIONS', { origin: 'https://a', 'access-control-request-method': 'POST' }),
    ).toBe(true);
    expect(isPreflight('OPTIONS', { origin: 'https://a' })).toBe(false);
    expect(
      isPreflight('GET', { origin: 'https://a', 'access-control-request-method': 'POST' }),
    ).toBe(false);
  });
});
