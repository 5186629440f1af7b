import { INestApplication } from '@nestjs/common';
import { createClient } from '@redis/client';
import request from 'supertest';
import { TokenStoreHealthIndicator } from '../src/auth/token-store/token-store.health';
import {
  ADMIN,
  decodeJwt,
  deleteKeys,
  startAuthApp,
  testKeyPrefix,
  USER,
  UserServiceInstance,
} from './support/auth-harness';
import { describeWithRedis, TEST_REDIS_URL } from './support/redis-available';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `GET /api/auth/me` until it answers `status`; resolves with the time that took. */
async function timeUntil(app: INestApplication, token: string, status: number, limitMs = 3_000) {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    const res = await request(app.getHttpServer())
      .get('/api/auth/me')
      .set('Authorization', `Bearer ${token}`);
    if (res.status === status) return Date.now() - started;
    await sleep(10);
  }
  throw new Error(`still not ${status} after ${limitMs} ms`);
}

/** Waits until the instance's revocation cache is running (its first heartbeat came back). */
async function cacheOn(app: INestApplication): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const health = await app.get(TokenStoreHealthIndicator).check();
    if ((health.tokenStore as { revocationCache?: string }).revocationCache === 'on') return;
    await sleep(20);
  }
  throw new Error('revocation cache did not come on');
}

describeWithRedis('gateway auth shared through Redis by two instances (e2e)', () => {
  const users = new UserServiceInstance();
  const prefix = testKeyPrefix();
  const redis = createClient({ url: TEST_REDIS_URL });
  const apps: INestApplication[] = [];
  let a: INestApplication;
  let b: INestApplication;

  const instance = async (env: Record<string, string> = {}) => {
    const app = await startAuthApp({
      AUTH_USER_SERVICE_URLS: users.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      AUTH_TOKEN_CACHE: 'true',
      AUTH_LOGIN_LIMIT_PER_IP: '1000',
      AUTH_LOGIN_LIMIT_PER_EMAIL: '1000',
      ...env,
    });
    apps.push(app);
    return app;
  };

  const login = async (app: INestApplication, credentials = USER) =>
    (await request(app.getHttpServer()).post('/api/auth/login').send(credentials).expect(200)).body
      .accessToken as string;

  const me = (app: INestApplication, token: string) =>
    request(app.getHttpServer()).get('/api/auth/me').set('Authorization', `Bearer ${token}`);

  beforeAll(async () => {
    await redis.connect();
    await users.start();
    a = await instance();
    b = await instance();
    await Promise.all([cacheOn(a), cacheOn(b)]);
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await users.stop();
    await deleteKeys(TEST_REDIS_URL, prefix);
    await redis.close();
  });

  it('should store the jti with a TTL of exp - now and accept the token on the other instance', async () => {
    const token = await login(a);
    const { jti, sub } = decodeJwt(token).payload as { jti: string; sub: string };
    const key = `${prefix}auth:jti:${jti}`;
    await expect(redis.get(key)).resolves.toBe(sub);
    const ttl = await redis.pTTL(key);
    expect(ttl).toBeGreaterThan(895_000);
    expect(ttl).toBeLessThanOrEqual(900_000);
    await expect(redis.zScore(`${prefix}auth:user:${sub}`, jti)).resolves.toEqual(
      expect.any(Number),
    );
    await me(b, token).expect(200);
  });

  it('should answer repeat requests from its local cache, without asking Redis', async () => {
    const token = await login(a);
    await me(b, token).expect(200);
    // Removed behind the gateway's back (not a revocation): the cache does not notice.
    await redis.del(`${prefix}auth:jti:${decodeJwt(token).payload.jti as string}`);
    await me(b, token).expect(200);
  });

  it('should refuse on a second instance, within 1 s, a token revoked on the first', async () => {
    const token = await login(a);
    for (let i = 0; i < 3; i++) {
      await me(a, token).expect(200);
      await me(b, token).expect(200);
    }
    await request(a.getHttpServer())
      .post('/api/auth/logout')
      .set('Authorization', `Bearer ${token}`)
      .expect(204);
    expect(await timeUntil(b, token, 401)).toBeLessThan(1_000);
    await me(a, token).expect(401);
  });

  it('should refuse all of a user’s tokens on every instance within 1 s of logout-all', async () => {
    const tokens = [await login(a), await login(b), await login(a)];
    const other = await login(b, ADMIN);
    for (const t of tokens) {
      await me(a, t).expect(200);
      await me(b, t).expect(200);
    }
    await request(b.getHttpServer())
      .post('/api/auth/logout-all')
      .set('Authorization', `Bearer ${tokens[0]}`)
      .expect(204);
    for (const t of tokens) {
      expect(await timeUntil(a, t, 401)).toBeLessThan(1_000);
      await me(b, t).expect(401);
    }
    await me(a, other).expect(200);
  });

  it('should check Redis on every request when the cache is off', async () => {
    const uncached = await instance({ AUTH_TOKEN_CACHE: 'false' });
    const token = await login(a);
    await me(uncached, token).expect(200);
    await request(a.getHttpServer())
      .post('/api/auth/logout')
      .set('Authorization', `Bearer ${token}`)
      .expect(204);
    await me(uncached, token).expect(401);
    await expect(uncached.get(TokenStoreHealthIndicator).check()).resolves.toEqual({
      tokenStore: { status: 'up', store: 'redis', reachable: true, revocationCache: 'off' },
    });
  });

  it('should share the login limit between instances and answer 429 with Retry-After', async () => {
    const limited = { AUTH_LOGIN_LIMIT_PER_EMAIL: '3', REDIS_KEY_PREFIX: `${prefix}limits:` };
    const [c, d] = [await instance(limited), await instance(limited)];
    const attempt = (app: INestApplication) =>
      request(app.getHttpServer())
        .post('/api/auth/login')
        .send({ email: USER.email, password: 'wrong-password' });
    expect((await attempt(c)).status).toBe(401);
    expect((await attempt(d)).status).toBe(401);
    expect((await attempt(c)).status).toBe(401);
    const refused = await attempt(d);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect((await attempt(c)).status).toBe(429);
  });
});
