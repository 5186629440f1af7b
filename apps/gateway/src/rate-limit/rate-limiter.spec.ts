import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { principalOf } from '../auth/principal';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import { parseGatewayConfig } from '../routing/gateway-config.loader';
import { MemoryRateLimitStore, RateLimitStore, WindowCount } from '../redis/rate-limit-store';
import { RateLimiter } from './rate-limiter';

const config = parseGatewayConfig({
  services: [
    {
      name: 'shop',
      basePath: '/api/shop',
      targets: ['http://127.0.0.1:1'],
      rateLimits: [
        { limit: 2, windowSeconds: 10, by: 'user' },
        { limit: 3, windowSeconds: 60 },
        { limit: 1, windowSeconds: 1, onStoreDown: 'deny' },
      ],
    },
  ],
});
const [perUser, perIp, strict] = config.services[0].rateLimits;
const request = (address: string) =>
  ({ socket: { remoteAddress: address }, headers: {} }) as unknown as IncomingMessage;
const principal = (sub: string) =>
  principalOf({
    sub,
    email: `${sub}@example.com`,
    roles: ['user'],
    iat: 0,
    exp: 0,
    jti: 'j',
    iss: 'i',
    aud: 'a',
  });
const logger = { warn: jest.fn() } as unknown as Logger;

class DownStore extends RateLimitStore {
  readonly kind = 'redis';
  hit(): Promise<WindowCount[]> {
    return Promise.reject(new Error('redis not connected'));
  }
}

describe('RateLimiter', () => {
  it('should count by user, refuse past the limit and report the tightest limit', async () => {
    const limiter = new RateLimiter(
      config,
      new MemoryRateLimitStore(),
      new GatewayMetrics(),
      logger,
    );
    const check = (sub: string) =>
      limiter.check('shop', [perUser, perIp], request('10.0.0.1'), principal(sub));
    await expect(check('1')).resolves.toEqual({
      allowed: true,
      headers: { 'ratelimit-limit': '2', 'ratelimit-remaining': '1', 'ratelimit-reset': '10' },
    });
    await check('1');
    const refused = await check('1');
    expect(refused).toMatchObject({ allowed: false, status: 429 });
    expect(refused.headers).toMatchObject({ 'ratelimit-remaining': '0', 'retry-after': '10' });
    // Another user has a count of their own, but the address's limit (3) is now spent.
    await expect(check('2')).resolves.toMatchObject({ allowed: false, status: 429 });
  });

  it('should count anonymous requests of a per-user limit by address', async () => {
    const limiter = new RateLimiter(
      config,
      new MemoryRateLimitStore(),
      new GatewayMetrics(),
      logger,
    );
    const check = (address: string) =>
      limiter.check('shop', [perUser], request(address), undefined);
    await check('10.0.0.1');
    await check('10.0.0.1');
    await expect(check('10.0.0.1')).resolves.toMatchObject({ allowed: false });
    await expect(check('10.0.0.2')).resolves.toMatchObject({ allowed: true });
  });

  it('should let requests through uncounted when the store is down, unless a limit says deny', async () => {
    const limiter = new RateLimiter(config, new DownStore(), new GatewayMetrics(), logger);
    await expect(limiter.check('shop', [perIp], request('10.0.0.1'), undefined)).resolves.toEqual({
      allowed: true,
      headers: null,
    });
    await expect(
      limiter.check('shop', [perIp, strict], request('10.0.0.1'), undefined),
    ).resolves.toEqual({
      allowed: false,
      status: 503,
      message: 'rate limiting is temporarily unavailable',
      headers: { 'retry-after': '1' },
    });
  });
});
