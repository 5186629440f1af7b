import { INestApplication } from '@nestjs/common';
import { request as httpRequest } from 'node:http';
import request from 'supertest';
import { MAX_TOKEN_BYTES } from '../src/auth/bearer-token';
import {
  ADMIN,
  decodeJwt,
  startAuthApp,
  urlOf,
  USER,
  UserServiceInstance,
} from './support/auth-harness';
import { freePort } from '../../../test/support/ports';

describe('gateway auth with the in-memory store (e2e)', () => {
  const users = new UserServiceInstance();
  let app: INestApplication;
  let server: ReturnType<INestApplication['getHttpServer']>;

  beforeAll(async () => {
    await users.start();
    app = await startAuthApp({
      AUTH_USER_SERVICE_URLS: users.url,
      AUTH_LOGIN_LIMIT_PER_IP: '1000',
      AUTH_LOGIN_LIMIT_PER_EMAIL: '1000',
    });
    server = app.getHttpServer();
  });

  afterAll(async () => {
    await app?.close();
    await users.stop();
  });

  async function login(credentials = ADMIN): Promise<string> {
    const res = await request(server).post('/api/auth/login').send(credentials).expect(200);
    return res.body.accessToken as string;
  }

  describe('login', () => {
    it('should issue an HS256 bearer token carrying the documented claims', async () => {
      const before = Math.floor(Date.now() / 1000);
      const res = await request(server).post('/api/auth/login').send(ADMIN).expect(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({
        accessToken: expect.any(String),
        tokenType: 'Bearer',
        expiresIn: 900,
      });
      const { header, payload } = decodeJwt(res.body.accessToken);
      expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
      expect(payload).toEqual({
        sub: expect.stringMatching(/^[1-9]\d*$/),
        email: 'admin@example.com',
        roles: ['admin', 'user'],
        iat: expect.any(Number),
        exp: expect.any(Number),
        jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
        iss: 'api-gateway',
        aud: 'api',
      });
      expect(payload.iat).toBeGreaterThanOrEqual(before);
      expect((payload.exp as number) - (payload.iat as number)).toBe(900);
    });

    it('should answer a wrong password and an unknown email with the same 401', async () => {
      const wrongPassword = await request(server)
        .post('/api/auth/login')
        .send({ email: ADMIN.email, password: 'not-the-password' })
        .expect(401);
      const unknownEmail = await request(server)
        .post('/api/auth/login')
        .send({ email: 'nobody@example.com', password: 'not-the-password' })
        .expect(401);
      for (const res of [wrongPassword, unknownEmail]) {
        expect(res.body).toEqual({
          statusCode: 401,
          error: 'Unauthorized',
          message: 'invalid email or password',
          requestId: expect.any(String),
        });
      }
    });

    it('should refuse a malformed body with 400 naming the field', async () => {
      const res = await request(server)
        .post('/api/auth/login')
        .send({ email: 'not-an-email', password: 'x' })
        .expect(400);
      expect(res.body.message).toMatch(/email/);
    });
  });

  describe('me', () => {
    it('should return the verified claims, with the scheme in any case', async () => {
      const token = await login(USER);
      for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
        const res = await request(server)
          .get('/api/auth/me')
          .set('Authorization', `${scheme} ${token}`)
          .expect(200);
        expect(res.body).toEqual(decodeJwt(token).payload);
        expect(res.body.email).toBe('user@example.com');
        expect(res.body.roles).toEqual(['user']);
      }
    });

    it('should ask for a token with a bare Bearer challenge and the standard error body', async () => {
      const res = await request(server)
        .get('/api/auth/me')
        .set('X-Request-Id', 'req-me-1')
        .expect(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.body).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'authentication required',
        requestId: 'req-me-1',
      });
    });

    it('should treat another scheme as no token', async () => {
      const res = await request(server)
        .get('/api/auth/me')
        .set('Authorization', 'Basic YWRtaW46cGFzcw==')
        .expect(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
    });

    it.each([
      ['no token after the scheme', () => 'Bearer'],
      ['two tokens', (t: string) => `Bearer ${t} ${t}`],
      ['two comma-separated credentials', (t: string) => `Bearer ${t}, Bearer ${t}`],
      ['a tab after the scheme', (t: string) => `Bearer\t${t}`],
    ])('should refuse a malformed header: %s', async (_, header) => {
      const token = await login(USER);
      const res = await request(server).get('/api/auth/me').set('Authorization', header(token));
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe(
        'Bearer error="invalid_token", error_description="malformed Authorization header"',
      );
    });

    it('should refuse two Authorization headers even when the first is valid', async () => {
      const token = await login(USER);
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${urlOf(app)}/api/auth/me`, {
          // Raw pairs, so both lines go out; raw headers get no default Host.
          headers: [
            'Host',
            '127.0.0.1',
            'Authorization',
            `Bearer ${token}`,
            'Authorization',
            `Bearer ${token}`,
          ],
        });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(401);
    });

    it('should refuse a token over 8 KB', async () => {
      const res = await request(server)
        .get('/api/auth/me')
        .set('Authorization', `Bearer ${'a'.repeat(MAX_TOKEN_BYTES)}.b.c`)
        .expect(401);
      expect(res.headers['www-authenticate']).toBe(
        'Bearer error="invalid_token", error_description="token too large"',
      );
    });
  });

  describe('roles on gateway endpoints', () => {
    it('should answer 403 to a signed-in user without the role, and 200 to an admin', async () => {
      const res = await request(server)
        .get('/test/admin-only')
        .set('Authorization', `Bearer ${await login(USER)}`)
        .expect(403);
      expect(res.headers['www-authenticate']).toBe(
        'Bearer error="insufficient_scope", error_description="requires role admin"',
      );
      expect(res.body).toMatchObject({
        statusCode: 403,
        error: 'Forbidden',
        message: 'requires role admin',
      });
      await request(server)
        .get('/test/admin-only')
        .set('Authorization', `Bearer ${await login(ADMIN)}`)
        .expect(200, { ok: true });
    });
  });

  describe('logout', () => {
    it('should refuse the token once it is logged out, and only that token', async () => {
      const [a, b] = [await login(USER), await login(USER)];
      await request(server).get('/api/auth/me').set('Authorization', `Bearer ${a}`).expect(200);
      await request(server)
        .post('/api/auth/logout')
        .set('Authorization', `Bearer ${a}`)
        .expect(204);
      const res = await request(server)
        .get('/api/auth/me')
        .set('Authorization', `Bearer ${a}`)
        .expect(401);
      expect(res.headers['www-authenticate']).toBe(
        'Bearer error="invalid_token", error_description="token revoked"',
      );
      await request(server)
        .post('/api/auth/logout')
        .set('Authorization', `Bearer ${a}`)
        .expect(401);
      await request(server).get('/api/auth/me').set('Authorization', `Bearer ${b}`).expect(200);
    });

    it('should refuse every token of the user after logout-all, and no one else’s', async () => {
      const tokens = [await login(USER), await login(USER), await login(USER)];
      const admin = await login(ADMIN);
      for (const t of tokens) {
        await request(server).get('/api/auth/me').set('Authorization', `Bearer ${t}`).expect(200);
      }
      await request(server)
        .post('/api/auth/logout-all')
        .set('Authorization', `Bearer ${tokens[1]}`)
        .expect(204);
      for (const t of tokens) {
        await request(server).get('/api/auth/me').set('Authorization', `Bearer ${t}`).expect(401);
      }
      await request(server).get('/api/auth/me').set('Authorization', `Bearer ${admin}`).expect(200);
      // A fresh login after logout-all works.
      await request(server)
        .get('/api/auth/me')
        .set('Authorization', `Bearer ${await login(USER)}`)
        .expect(200);
    });

    it('should require a token to log out', async () => {
      await request(server).post('/api/auth/logout').expect(401);
      await request(server).post('/api/auth/logout-all').expect(401);
    });
  });
});

describe('gateway auth login limits and failures (e2e)', () => {
  const users = new UserServiceInstance();
  const apps: INestApplication[] = [];

  beforeAll(() => users.start());

  afterAll(async () => {
    for (const a of apps) await a.close();
    await users.stop();
  });

  it('should answer 429 with Retry-After once an email has used its attempts', async () => {
    const app = await startAuthApp({
      AUTH_USER_SERVICE_URLS: users.url,
      AUTH_LOGIN_LIMIT_PER_EMAIL: '3',
      AUTH_LOGIN_WINDOW_SECONDS: '60',
    });
    apps.push(app);
    const attempt = (password: string) =>
      request(app.getHttpServer()).post('/api/auth/login').send({ email: USER.email, password });
    expect((await attempt('wrong-1')).status).toBe(401);
    expect((await attempt('wrong-2')).status).toBe(401);
    expect((await attempt(USER.password)).status).toBe(200);
    const limited = await attempt(USER.password);
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
    // Another email from the same address is still admitted.
    expect((await request(app.getHttpServer()).post('/api/auth/login').send(ADMIN)).status).toBe(
      200,
    );
  });

  it('should limit one client address across emails', async () => {
    const app = await startAuthApp({
      AUTH_USER_SERVICE_URLS: users.url,
      AUTH_LOGIN_LIMIT_PER_IP: '2',
    });
    apps.push(app);
    const server = app.getHttpServer();
    await request(server).post('/api/auth/login').send(ADMIN).expect(200);
    await request(server).post('/api/auth/login').send(USER).expect(200);
    const res = await request(server)
      .post('/api/auth/login')
      .set('X-Forwarded-For', '203.0.113.9')
      .send({ email: 'third@example.com', password: 'whatever-123' })
      .expect(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('should answer 503 when no user-service replica can be reached, after trying each', async () => {
    const app = await startAuthApp({
      AUTH_USER_SERVICE_URLS: `http://127.0.0.1:${await freePort()},http://127.0.0.1:${await freePort()}`,
    });
    apps.push(app);
    const res = await request(app.getHttpServer()).post('/api/auth/login').send(ADMIN).expect(503);
    expect(res.body).toMatchObject({ statusCode: 503, message: 'user service unavailable' });
  });

  it('should fail over to a live replica when the first refuses connections', async () => {
    const app = await startAuthApp({
      AUTH_USER_SERVICE_URLS: `http://127.0.0.1:${await freePort()},${users.url}`,
    });
    apps.push(app);
    for (let i = 0; i < 3; i++) {
      await request(app.getHttpServer()).post('/api/auth/login').send(ADMIN).expect(200);
    }
  });
});
