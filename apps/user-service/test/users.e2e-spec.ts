import { UserView } from '@app/contracts';
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { sampleOf } from '../../../test/support/prometheus-text';
import { UserServiceModule } from '../src/user-service.module';

/**
 * Runs on a temporary SQLite file, or on the PostgreSQL database named by an externally given
 * DATABASE_URL, which may hold rows from earlier runs: emails carry a per-run suffix and counts are
 * compared before and after rather than assumed.
 */
describe('user-service (e2e)', () => {
  const savedEnv = { DATABASE_PATH: process.env.DATABASE_PATH, SEED_DATA: process.env.SEED_DATA };
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const emailOf = (who: string) => `${who}-${run}@example.com`;
  const started: INestApplication[] = [];
  let dir: string;
  let app: INestApplication;
  let admin: UserView;
  let uma: UserView;

  const as = (user: Pick<UserView, 'id' | 'roles'>) => ({
    'x-user-id': String(user.id),
    'x-user-roles': user.roles.join(','),
  });

  async function startApp(): Promise<INestApplication> {
    const moduleRef = await Test.createTestingModule({ imports: [UserServiceModule] }).compile();
    const instance = moduleRef.createNestApplication({ logger: false });
    started.push(instance);
    await instance.init();
    return instance;
  }

  function verify(target: INestApplication, email: string, password: string) {
    return request(target.getHttpServer())
      .post('/internal/credentials/verify')
      .send({ email, password });
  }

  async function register(who: string, password = `${who}-password`): Promise<UserView> {
    const res = await request(app.getHttpServer())
      .post('/')
      .send({ name: who, email: emailOf(who), password })
      .expect(201);
    return res.body as UserView;
  }

  async function total(target: INestApplication = app): Promise<number> {
    const res = await request(target.getHttpServer()).get('/?limit=1').set(as(admin)).expect(200);
    return res.body.total as number;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'users-e2e-'));
    // Ignored when DATABASE_URL is set: the libs then use PostgreSQL.
    process.env.DATABASE_PATH = join(dir, 'users.db');
    process.env.SEED_DATA = 'true';
    app = await startApp();
    admin = (await verify(app, 'admin@example.com', 'admin-password-123').expect(200)).body;
    uma = (await verify(app, 'user@example.com', 'user-password-123').expect(200)).body;
  });

  afterAll(async () => {
    for (const instance of started.reverse()) await instance.close();
    for (const [key, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  describe('seed', () => {
    it('should create the development admin and user on first start', () => {
      expect(admin).toEqual({
        id: expect.any(Number),
        name: 'Ada Admin',
        email: 'admin@example.com',
        roles: ['admin', 'user'],
      });
      expect(uma).toEqual({
        id: expect.any(Number),
        name: 'Uma User',
        email: 'user@example.com',
        roles: ['user'],
      });
    });
  });

  describe('registration and the own record', () => {
    it('should register a plain user with a normalised email', async () => {
      const res = await request(app.getHttpServer())
        .post('/')
        .send({ name: 'Reg', email: `  Reg-${run}@Example.COM `, password: 'registration-pw' })
        .expect(201);
      expect(res.body).toEqual({
        id: expect.any(Number),
        name: 'Reg',
        email: emailOf('reg'),
        roles: ['user'],
      });
    });

    it('should let users read, update and delete their own record', async () => {
      const server = app.getHttpServer();
      const me = await register('self');
      await request(server).get(`/${me.id}`).set(as(me)).expect(200, me);
      const patched = await request(server)
        .patch(`/${me.id}`)
        .set(as(me))
        .send({ name: 'Self Renamed', email: `SELF2-${run}@example.com` })
        .expect(200);
      expect(patched.body).toEqual({ ...me, name: 'Self Renamed', email: emailOf('self2') });
      await request(server).get(`/${me.id}`).set(as(me)).expect(200, patched.body);
      await request(server).delete(`/${me.id}`).set(as(me)).expect(204, '');
      await request(server).get(`/${me.id}`).set(as(admin)).expect(404);
      await request(server).delete(`/${me.id}`).set(as(admin)).expect(404);
    });

    it('should rehash a changed password: the old one stops working, the new one works', async () => {
      const me = await register('carol', 'first-password');
      await request(app.getHttpServer())
        .patch(`/${me.id}`)
        .set(as(me))
        .send({ password: 'second-password' })
        .expect(200, me);
      const old = await verify(app, me.email, 'first-password').expect(401);
      expect(old.body.message).toBe('invalid email or password');
      await verify(app, me.email, 'second-password').expect(200, me);
    });
  });

  describe('Idempotency-Key', () => {
    it('should register once for a sign-up retried with its key, and refuse the key with another body', async () => {
      const server = app.getHttpServer();
      const body = { name: 'Keyed', email: emailOf('keyed'), password: 'keyed-password' };
      const before = await total();
      const first = await request(server)
        .post('/')
        .set('idempotency-key', `signup-${run}`)
        .send(body)
        .expect(201);
      const again = await request(server)
        .post('/')
        .set('idempotency-key', `signup-${run}`)
        .send({ ...body, email: ` ${body.email.toUpperCase()} ` })
        .expect(201);
      expect(again.headers['idempotency-replayed']).toBe('true');
      expect(again.body).toEqual(first.body);
      await request(server)
        .post('/')
        .set('idempotency-key', `signup-${run}`)
        .send({ ...body, name: 'Other' })
        .expect(422);
      expect(await total()).toBe(before + 1);
    });

    it('should replay a keyed profile update and delete', async () => {
      const server = app.getHttpServer();
      const user = await register('keyed-update');
      const headers = { ...as(user), 'idempotency-key': `update-${run}` };
      await request(server).patch(`/${user.id}`).set(headers).send({ name: 'New' }).expect(200);
      const replay = await request(server)
        .patch(`/${user.id}`)
        .set(headers)
        .send({ name: 'New' })
        .expect(200);
      expect(replay.headers['idempotency-replayed']).toBe('true');
      const del = { ...as(user), 'idempotency-key': `delete-${run}` };
      await request(server).delete(`/${user.id}`).set(del).expect(204);
      const again = await request(server).delete(`/${user.id}`).set(del).expect(204);
      expect(again.headers['idempotency-replayed']).toBe('true');
    });
  });

  describe('canonical email', () => {
    it('should register full-width, padded and upper-case spellings as one address', async () => {
      const server = app.getHttpServer();
      const local = `wide${run}`;
      const wide = [...local].map((c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0)).join('');
      const res = await request(server)
        .post('/')
        .send({ name: 'Wide', email: `  ${wide}@EXAMPLE.com `, password: 'wide-password' })
        .expect(201);
      expect(res.body.email).toBe(`${local}@example.com`);
      await verify(app, `${local.toUpperCase()}@example.com`, 'wide-password').expect(200);
      await request(server)
        .post('/')
        .send({ name: 'Again', email: `${local}@example.com`, password: 'wide-password' })
        .expect(409);
    });

    it('should refuse a look-alike of an existing address with 409, at sign-up and on change', async () => {
      const server = app.getHttpServer();
      const real = await register(`paypal${run}`);
      // Cyrillic а in place of the Latin a.
      const fake = real.email.replace('paypal', 'p\u0430yp\u0430l');
      const res = await request(server)
        .post('/')
        .send({ name: 'Fake', email: fake, password: 'fake-password' })
        .expect(409);
      expect(res.body.message).toBe('email looks like the address of an existing account');
      const other = await register(`other${run}`);
      await request(server).patch(`/${other.id}`).set(as(other)).send({ email: fake }).expect(409);
    });

    it('should refuse a quoted local part with 400 naming the rule', async () => {
      const res = await request(app.getHttpServer())
        .post('/')
        .send({ name: 'Q', email: '"ada lovelace"@example.com', password: 'quoted-password' })
        .expect(400);
      expect(res.body.message).toMatch(/email must not contain quotes, backslashes or spaces/);
    });
  });

  describe('listing', () => {
    it('should page through users in id order with limit, offset and total', async () => {
      const server = app.getHttpServer();
      const before = await total();
      await register('page-a');
      await register('page-b');
      const last = await register('page-c');
      expect(await total()).toBe(before + 3);

      const first = await request(server).get('/?limit=3&offset=0').set(as(admin)).expect(200);
      const second = await request(server).get('/?limit=2&offset=1').set(as(admin)).expect(200);
      expect(first.body).toMatchObject({ limit: 3, offset: 0, total: before + 3 });
      expect(second.body).toMatchObject({ limit: 2, offset: 1, total: before + 3 });
      expect(first.body.items).toHaveLength(3);
      expect(second.body.items).toEqual(first.body.items.slice(1, 3));
      const ids = (first.body.items as UserView[]).map((u) => u.id);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));

      const tail = await request(server)
        .get(`/?limit=5&offset=${before + 2}`)
        .set(as(admin))
        .expect(200);
      expect(tail.body.items).toEqual([last]);
    });

    it('should default to the first 20 and refuse a limit over 100', async () => {
      const res = await request(app.getHttpServer()).get('/').set(as(admin)).expect(200);
      expect(res.body).toMatchObject({ limit: 20, offset: 0 });
      expect(res.body.items).toHaveLength(Math.min(20, res.body.total));
      const bad = await request(app.getHttpServer()).get('/?limit=101').set(as(admin)).expect(400);
      expect(bad.body.message).toBe('limit must not be greater than 100');
    });
  });

  describe('email uniqueness', () => {
    it('should answer 409 to a second registration of one email in any case or padding', async () => {
      const dave = await register('dave');
      const before = await total();
      const res = await request(app.getHttpServer())
        .post('/')
        .send({ name: 'Copy', email: `  DAVE-${run}@Example.com `, password: 'another-password' })
        .expect(409);
      expect(res.body).toEqual({
        statusCode: 409,
        error: 'Conflict',
        message: 'email already registered',
        requestId: expect.any(String),
      });
      expect(await total()).toBe(before);
      await verify(app, dave.email, 'dave-password').expect(200, dave);
    });

    it("should answer 409 when an update takes someone else's email, and allow one's own", async () => {
      const dave = await verify(app, emailOf('dave'), 'dave-password').expect(200);
      const erin = await register('erin');
      const taken = await request(app.getHttpServer())
        .patch(`/${erin.id}`)
        .set(as(erin))
        .send({ email: dave.body.email.toUpperCase() })
        .expect(409);
      expect(taken.body.message).toBe('email already registered');
      await request(app.getHttpServer())
        .patch(`/${erin.id}`)
        .set(as(erin))
        .send({ email: erin.email.toUpperCase() })
        .expect(200, erin);
    });

    it('should answer 409, never 500, when registrations race for one email', async () => {
      const before = await total();
      const body = { name: 'Racer', email: emailOf('racer'), password: 'race-password' };
      const results = await Promise.all(
        Array.from({ length: 5 }, () => request(app.getHttpServer()).post('/').send(body)),
      );
      const statuses = results.map((r) => r.status).sort();
      expect(statuses).toEqual([201, 409, 409, 409, 409]);
      expect(await total()).toBe(before + 1);
    });
  });

  describe('validation', () => {
    it.each([
      [{ name: 'x', email: 'not-an-email', password: 'long-enough' }, 'email must be an email'],
      [
        { name: 'x', email: 'short@example.com', password: 'short' },
        'password must be longer than or equal to 8 characters',
      ],
      [
        { name: 'x', email: 'roles@example.com', password: 'long-enough', roles: ['admin'] },
        'property roles should not exist',
      ],
      [{ email: 'noname@example.com', password: 'long-enough' }, /^name /],
    ])('should refuse registration %j with 400 naming the field', async (body, message) => {
      const res = await request(app.getHttpServer()).post('/').send(body).expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(res.body.message).toMatch(message);
      expect(res.body.requestId).toEqual(expect.any(String));
    });

    it('should refuse an update that tries to set roles, leaving the roles alone', async () => {
      const me = await register('climber');
      const res = await request(app.getHttpServer())
        .patch(`/${me.id}`)
        .set(as(me))
        .send({ roles: ['admin'] })
        .expect(400);
      expect(res.body.message).toBe('property roles should not exist');
      const after = await request(app.getHttpServer()).get(`/${me.id}`).set(as(me)).expect(200);
      expect(after.body.roles).toEqual(['user']);
    });

    it.each([
      ['get', '/abc'],
      ['patch', '/0'],
      ['delete', '/1.5'],
    ] as const)('should answer %s %s with 400 naming the id', async (method, path) => {
      const res = await request(app.getHttpServer())[method](path).set(as(admin)).expect(400);
      expect(res.body.message).toBe('id must be a positive integer');
    });

    it('should answer 404 naming an unknown id', async () => {
      const server = app.getHttpServer();
      const res = await request(server).get('/987654321').set(as(admin)).expect(404);
      expect(res.body).toEqual({
        statusCode: 404,
        error: 'Not Found',
        message: 'user 987654321 not found',
        requestId: expect.any(String),
      });
      await request(server).patch('/987654321').set(as(admin)).send({ name: 'x' }).expect(404);
      await request(server).delete('/987654321').set(as(admin)).expect(404);
    });
  });

  describe('authorization from identity headers', () => {
    let alice: UserView;
    let bob: UserView;

    beforeAll(async () => {
      alice = await register('alice');
      bob = await register('bob');
    });

    it.each([
      ['without identity headers', {}],
      ['with a malformed x-user-id', { 'x-user-id': 'abc', 'x-user-roles': 'admin' }],
      ['with roles but no id', { 'x-user-roles': 'admin,user' }],
    ])('should answer 401 %s', async (_case, headers: Record<string, string>) => {
      const server = app.getHttpServer();
      for (const req of [
        request(server).get(`/${alice.id}`),
        request(server).patch(`/${alice.id}`).send({ name: 'x' }),
        request(server).delete(`/${alice.id}`),
        request(server).get('/'),
      ]) {
        const res = await req.set(headers).expect(401);
        expect(res.body.message).toBe('missing identity');
      }
    });

    it("should refuse a user someone else's record with 403 and change nothing", async () => {
      const server = app.getHttpServer();
      const read = await request(server).get(`/${alice.id}`).set(as(bob)).expect(403);
      expect(read.body.message).toBe('only the user themself or an admin may do this');
      await request(server).patch(`/${alice.id}`).set(as(bob)).send({ name: 'Hacked' }).expect(403);
      await request(server).delete(`/${alice.id}`).set(as(bob)).expect(403);
      await request(server).get(`/${alice.id}`).set(as(alice)).expect(200, alice);
    });

    it('should let an admin read, update and delete any record', async () => {
      const server = app.getHttpServer();
      const target = await register('target');
      await request(server).get(`/${target.id}`).set(as(admin)).expect(200, target);
      await request(server)
        .patch(`/${target.id}`)
        .set(as(admin))
        .send({ name: 'By Admin' })
        .expect(200, { ...target, name: 'By Admin' });
      await request(server).delete(`/${target.id}`).set(as(admin)).expect(204);
      await request(server).get(`/${target.id}`).set(as(admin)).expect(404);
    });

    it('should list users for an admin only', async () => {
      const server = app.getHttpServer();
      const denied = await request(server).get('/').set(as(uma)).expect(403);
      expect(denied.body.message).toBe('admin role required');
      await request(server).get('/').set(as(alice)).expect(403);
      await request(server).get('/').set(as(admin)).expect(200);
    });

    it('should let anyone register without an identity', async () => {
      await request(app.getHttpServer())
        .post('/')
        .send({ name: 'Anon', email: emailOf('anon'), password: 'anon-password' })
        .expect(201);
    });
  });

  describe('credentials', () => {
    it('should verify an email (any case or padding) and password to the user', async () => {
      const frank = await register('frank', 'frank-password');
      await verify(app, ` FRANK-${run}@example.com`, 'frank-password').expect(200, frank);
    });

    it('should answer a wrong password and an unknown email with the same 401', async () => {
      const expected = {
        statusCode: 401,
        error: 'Unauthorized',
        message: 'invalid email or password',
        requestId: expect.any(String),
      };
      const wrong = await verify(app, 'admin@example.com', 'not-the-password').expect(401);
      const unknown = await verify(app, emailOf('nobody'), 'admin-password-123').expect(401);
      expect(wrong.body).toEqual(expected);
      expect(unknown.body).toEqual(expected);
    });

    it('should spend a hash on an unknown email, like on a wrong password', async () => {
      async function medianMs(email: string): Promise<number> {
        const times: number[] = [];
        for (let i = 0; i < 3; i++) {
          const t0 = process.hrtime.bigint();
          await verify(app, email, 'wrong-password').expect(401);
          times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
        return times.sort((a, b) => a - b)[1];
      }
      const wrongPassword = await medianMs('admin@example.com');
      const unknownEmail = await medianMs(emailOf('ghost'));
      // Without the dummy hash the unknown email answers in about 1 ms against scrypt's tens.
      expect(unknownEmail).toBeGreaterThan(wrongPassword / 4);
    });

    it('should refuse a body without a password with 400 naming it', async () => {
      const res = await request(app.getHttpServer())
        .post('/internal/credentials/verify')
        .send({ email: 'admin@example.com' })
        .expect(400);
      expect(res.body.message).toMatch(/^password /);
    });
  });

  describe('password hashing under a burst of sign-ups', () => {
    const BURST = 200;

    /*
     * Logins go ahead of queued sign-ups (HashingQueue): asserted as an order of completion, which
     * holds however slow a loaded machine makes each hash. With one FIFO queue for all hashes, the
     * first login would finish after every sign-up queued before it.
     */
    it('should let a login overtake the queued sign-ups; excess sign-ups get 503 + Retry-After', async () => {
      const server = app.getHttpServer();
      const finishedAt = new Map<number, number>();
      const burst = Array.from({ length: BURST }, (_, i) =>
        request(server)
          .post('/')
          .send({ name: 'Burst', email: emailOf(`burst${i}`), password: 'burst-password' })
          .then((res) => {
            finishedAt.set(i, performance.now());
            return res;
          }),
      );
      // Let the burst reach the service before the login starts.
      await new Promise((resolve) => setTimeout(resolve, 200));
      await verify(app, 'user@example.com', 'user-password-123').expect(200);
      const loggedInAt = performance.now();
      for (let i = 0; i < 4; i++) {
        await verify(app, 'user@example.com', 'user-password-123').expect(200);
      }
      const answers = await Promise.all(burst);
      const signedUpAfterLogin = answers.filter(
        (res, i) => res.status === 201 && finishedAt.get(i)! > loggedInAt,
      );
      expect(signedUpAfterLogin.length).toBeGreaterThan(0);
      const shed = answers.filter((res) => res.status === 503);
      expect(answers.filter((res) => res.status !== 201 && res.status !== 503)).toEqual([]);
      // Whether the queue fills depends on how fast the burst gets past its email lookup (the
      // PostgreSQL pool spreads it out); the refusal itself is pinned down in hashing-queue.spec.ts.
      for (const res of shed) {
        expect(res.headers['retry-after']).toMatch(/^\d+$/);
        expect(res.body.message).toMatch(/busy/);
      }
      // A shed sign-up wrote nothing: its email is still free.
      for (const res of shed.slice(0, 1)) {
        const refused = res.request as unknown as { _data: { email: string } };
        await request(server)
          .post('/')
          .send({ name: 'Retry', email: refused._data.email, password: 'burst-password' })
          .expect(201);
      }
    }, 60_000);
  });

  it('should never answer with the password or its hash', async () => {
    const server = app.getHttpServer();
    const secret = 'secret-password-x';
    const created = await request(server)
      .post('/')
      .send({ name: 'Quiet', email: emailOf('quiet'), password: secret })
      .expect(201);
    const me = created.body as UserView;
    const bodies = [
      created.body,
      (await request(server).get(`/${me.id}`).set(as(me)).expect(200)).body,
      (await request(server).get('/?limit=100').set(as(admin)).expect(200)).body,
      (
        await request(server)
          .patch(`/${me.id}`)
          .set(as(me))
          .send({ password: `${secret}-2` })
          .expect(200)
      ).body,
      (await verify(app, me.email, `${secret}-2`).expect(200)).body,
      (await request(server).delete(`/${me.id}`).set(as(me)).expect(204)).body,
    ];
    for (const body of bodies) {
      expect(JSON.stringify(body)).not.toMatch(/password|hash|scrypt|secret/i);
    }
    // The refusal names the field ("invalid email or password") but carries no value.
    const refused = await verify(app, me.email, secret).expect(401);
    expect(JSON.stringify(refused.body)).not.toMatch(/hash|scrypt|secret/i);
    for (const item of bodies[2].items as object[]) {
      expect(Object.keys(item).sort()).toEqual(['email', 'id', 'name', 'roles']);
    }
  });

  it('should answer liveness and readiness with the database checked', async () => {
    await request(app.getHttpServer()).get('/health/live').expect(200);
    const ready = await request(app.getHttpServer()).get('/health/ready').expect(200);
    expect(ready.body.details.database.status).toBe('up');
  });

  describe('a second replica on the same database', () => {
    let replica: INestApplication;
    const renamed = `Ada Renamed ${run}`;
    let before: number;

    beforeAll(async () => {
      await request(app.getHttpServer())
        .patch(`/${admin.id}`)
        .set(as(admin))
        .send({ name: renamed })
        .expect(200);
      before = await total();
      // The second start meets an already migrated and seeded database.
      replica = await startApp();
    });

    afterAll(async () => {
      await request(app.getHttpServer())
        .patch(`/${admin.id}`)
        .set(as(admin))
        .send({ name: 'Ada Admin' })
        .expect(200);
    });

    it('should start without seeding again: no new rows, the changed name kept', async () => {
      expect(await total(replica)).toBe(before);
      await request(replica.getHttpServer())
        .get(`/${admin.id}`)
        .set(as(admin))
        .expect(200, { ...admin, name: renamed });
      await verify(replica, 'user@example.com', 'user-password-123').expect(200, uma);
    });

    it('should read back through one replica a user created through the other', async () => {
      const created = await register('replicated');
      await request(replica.getHttpServer())
        .get(`/${created.id}`)
        .set(as(created))
        .expect(200, created);
      await request(replica.getHttpServer()).delete(`/${created.id}`).set(as(created)).expect(204);
      await request(app.getHttpServer()).get(`/${created.id}`).set(as(admin)).expect(404);
    });

    it('should answer readiness on the second replica too', async () => {
      const ready = await request(replica.getHttpServer()).get('/health/ready').expect(200);
      expect(ready.body.details.database.status).toBe('up');
    });
  });

  describe('/metrics', () => {
    const scrape = async () =>
      (await request(app.getHttpServer()).get('/metrics').expect(200)).text;

    it('should count requests under their route templates, the internal ones included', async () => {
      const read = 'http_requests_total{method="GET",route="/:id",status="200"}';
      const verified =
        'http_requests_total{method="POST",route="/internal/credentials/verify",status="200"}';
      const before = await scrape();
      await request(app.getHttpServer()).get(`/${uma.id}`).set(as(uma)).expect(200);
      await verify(app, 'user@example.com', 'user-password-123').expect(200);
      const after = await scrape();
      expect(sampleOf(after, read)).toBe(sampleOf(before, read) + 1);
      expect(sampleOf(after, verified)).toBe(sampleOf(before, verified) + 1);
      expect(after).not.toMatch(new RegExp(`route="/${uma.id}"`));
    });

    it('should record a registration in the database wait metrics', async () => {
      const waits = 'db_write_lock_wait_seconds_count';
      const before = await scrape();
      await register('measured');
      const after = await scrape();
      if (app.get(DataSource).options.type === 'postgres') {
        expect(after).toMatch(/^db_pool_waiting_clients \d+$/m);
      } else {
        expect(sampleOf(after, waits)).toBeGreaterThanOrEqual(sampleOf(before, waits) + 1);
      }
    });
  });
});
