import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { TokenStoreHealthIndicator } from '../src/auth/token-store/token-store.health';
import { startAuthApp, USER, UserServiceInstance } from './support/auth-harness';
import { describeWhen } from './support/redis-available';
import { PrivateRedisServer, redisServerStatus } from './support/redis-server';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeWhen('gateway auth when Redis stops (e2e)', redisServerStatus(), () => {
  const users = new UserServiceInstance();
  const redisServer = new PrivateRedisServer();
  let app: INestApplication;

  const me = (token: string) =>
    request(app.getHttpServer()).get('/api/auth/me').set('Authorization', `Bearer ${token}`);
  const health = async () =>
    (await app.get(TokenStoreHealthIndicator).check()) as unknown as {
      tokenStore: { status: string; reachable: boolean; revocationCache?: string };
    };

  beforeAll(async () => {
    await redisServer.start();
    await users.start();
    app = await startAuthApp({
      AUTH_USER_SERVICE_URLS: users.url,
      REDIS_URL: redisServer.url,
      AUTH_TOKEN_CACHE: 'true',
      AUTH_REDIS_TIMEOUT_MS: '200',
    });
  });

  afterAll(async () => {
    await app?.close();
    await users.stop();
    await redisServer.stop();
  });

  it('should stop using its cache and answer 503 in bounded time when Redis hangs', async () => {
    const login = await request(app.getHttpServer()).post('/api/auth/login').send(USER).expect(200);
    const token = login.body.accessToken as string;
    for (let i = 0; i < 3; i++) await me(token).expect(200);

    redisServer.pause();
    try {
      // Within the revocation bound the cache may still answer; past it, it must not.
      await sleep(800);
      const results: Array<{ status: number; ms: number }> = [];
      for (let i = 0; i < 10; i++) {
        const started = Date.now();
        const res = await me(token);
        results.push({ status: res.status, ms: Date.now() - started });
      }
      expect(results.map((r) => r.status)).toEqual(new Array(10).fill(503));
      // Each answer came once the command deadline (200 ms) passed instead of waiting on the paused
      // server, which would hold a command until the test's own timeout. The margin above the
      // deadline is for a loaded 2-core machine, where timers run late by up to a few hundred ms.
      expect(Math.max(...results.map((r) => r.ms))).toBeLessThan(200 + 1_300);
    } finally {
      redisServer.resume();
    }
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      ok = (await me(token)).status === 200;
      if (!ok) await sleep(50);
    }
    expect(ok).toBe(true);
  });

  it('should fail closed with 503, never 2xx, while Redis is down, and recover after', async () => {
    const login = await request(app.getHttpServer()).post('/api/auth/login').send(USER).expect(200);
    const token = login.body.accessToken as string;
    // Warm the local cache so that the test also proves the cache stops answering.
    for (let i = 0; i < 5; i++) await me(token).expect(200);
    await sleep(300);
    await me(token).expect(200);

    await redisServer.stop();
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      statuses.push((await me(token)).status);
      await sleep(25);
    }
    expect(statuses).toEqual(new Array(40).fill(503));
    const refused = await me(token);
    expect(refused.body).toMatchObject({
      statusCode: 503,
      message: 'authentication is temporarily unavailable',
    });
    await request(app.getHttpServer()).post('/api/auth/login').send(USER).expect(503);
    await request(app.getHttpServer())
      .post('/api/auth/logout')
      .set('Authorization', `Bearer ${token}`)
      .expect(503);
    await expect(health()).resolves.toMatchObject({
      tokenStore: { status: 'up', store: 'redis', reachable: false },
    });
    // Routes that need no token keep working.
    await request(app.getHttpServer()).get('/test/public').expect(200, { ok: true });

    await redisServer.start();
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      up = (await health()).tokenStore.reachable === true;
      if (!up) await sleep(50);
    }
    expect(up).toBe(true);
    // The subscription is made again by itself, and with it the local cache comes back.
    let cache: unknown;
    for (let i = 0; i < 100 && cache !== 'on'; i++) {
      cache = (await health()).tokenStore.revocationCache;
      if (cache !== 'on') await sleep(50);
    }
    expect(cache).toBe('on');
    // The restarted Redis has no data (no persistence), so the old token is no longer live.
    await me(token).expect(401);
    const again = await request(app.getHttpServer()).post('/api/auth/login').send(USER).expect(200);
    await me(again.body.accessToken as string).expect(200);
  });
});
