import { UserView } from '@app/contracts';
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { freePort } from '../../../test/support/ports';
import { UserServiceModule } from '../src/user-service.module';
import { UserServiceProcess } from './support/user-service-process';

const ADMIN_VARS = ['ADMIN_EMAIL', 'ADMIN_PASSWORD', 'ADMIN_PASSWORD_FILE'] as const;
type AdminEnv = Partial<Record<(typeof ADMIN_VARS)[number], string>>;

/**
 * The first administrator of a database without seed rows, as production starts. Runs on a
 * temporary SQLite file, or on the PostgreSQL database of an externally given DATABASE_URL; each
 * test uses an address of its own, so rows of the other tests never count.
 */
describe('admin bootstrap (e2e)', () => {
  const savedEnv = Object.fromEntries(
    ['DATABASE_PATH', 'SEED_DATA', ...ADMIN_VARS].map((k) => [k, process.env[k]]),
  );
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const emailOf = (who: string) => `${who}-${run}@example.com`;
  const apps: INestApplication[] = [];
  const processes: UserServiceProcess[] = [];
  let dir: string;

  async function startApp(env: AdminEnv): Promise<INestApplication> {
    for (const name of ADMIN_VARS) delete process.env[name];
    Object.assign(process.env, env);
    const moduleRef = await Test.createTestingModule({ imports: [UserServiceModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    apps.push(app);
    await app.init();
    return app;
  }

  async function stopApp(app: INestApplication): Promise<void> {
    apps.splice(apps.indexOf(app), 1);
    await app.close();
  }

  function verify(server: Parameters<typeof request>[0], email: string, password: string) {
    return request(server).post('/internal/credentials/verify').send({ email, password });
  }

  /** Rows with `email`, read through the admin-only list as the gateway would ask for it. */
  async function rowsWith(server: Parameters<typeof request>[0], email: string, admin: UserView) {
    const res = await request(server)
      .get('/?limit=100')
      .set({ 'x-user-id': String(admin.id), 'x-user-roles': admin.roles.join(',') })
      .expect(200);
    return (res.body.items as UserView[]).filter((u) => u.email === email);
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'admin-bootstrap-e2e-'));
    // Ignored when DATABASE_URL is set: the libs then use PostgreSQL.
    process.env.DATABASE_PATH = join(dir, 'users.db');
    process.env.SEED_DATA = 'false';
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    for (const app of apps.reverse()) await app.close();
    for (const [key, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  describe('one replica, started twice', () => {
    const email = emailOf('root');
    let admin: UserView;

    it('should create the admin from ADMIN_EMAIL and ADMIN_PASSWORD_FILE, who signs in as admin', async () => {
      const secret = join(dir, 'admin_password');
      writeFileSync(secret, 'first-admin-password\n');
      const app = await startApp({ ADMIN_EMAIL: email.toUpperCase(), ADMIN_PASSWORD_FILE: secret });
      const server = app.getHttpServer();

      admin = (await verify(server, email, 'first-admin-password').expect(200)).body;
      expect(admin).toEqual({
        id: expect.any(Number),
        name: 'Administrator',
        email,
        roles: ['admin', 'user'],
      });
      await expect(rowsWith(server, email, admin)).resolves.toEqual([admin]);
      await verify(server, email, 'first-admin-password\n').expect(401);
      await stopApp(app);
    });

    it('should keep the password when restarted with another ADMIN_PASSWORD', async () => {
      const app = await startApp({ ADMIN_EMAIL: email, ADMIN_PASSWORD: 'a-new-admin-password' });
      const server = app.getHttpServer();

      await verify(server, email, 'a-new-admin-password').expect(401);
      await verify(server, email, 'first-admin-password').expect(200, admin);
      await expect(rowsWith(server, email, admin)).resolves.toEqual([admin]);
    });
  });

  describe('replicas as processes', () => {
    const password = 'replica-admin-password';
    // Production mode with fast stops, and no ADMIN_* inherited from an earlier test.
    const common = {
      NODE_ENV: 'production',
      DRAIN_DELAY_MS: '0',
      ADMIN_EMAIL: '',
      ADMIN_PASSWORD: '',
      ADMIN_PASSWORD_FILE: '',
    };

    it('should create exactly one admin when two replicas start at once on one database', async () => {
      const email = emailOf('race');
      // A database of its own, so the race covers the migrations too (SQLite; PostgreSQL is shared).
      const env = { ...common, DATABASE_PATH: join(dir, 'race.db'), ADMIN_EMAIL: email };
      const replicas = [
        new UserServiceProcess(await freePort(), { ...env, ADMIN_PASSWORD: password }),
        new UserServiceProcess(await freePort(), { ...env, ADMIN_PASSWORD: password }),
      ];
      processes.push(...replicas);
      await Promise.all(replicas.map((p) => p.ready(60_000)));

      const views = await Promise.all(
        replicas.map(
          async (p) => (await verify(p.url, email, password).expect(200)).body as UserView,
        ),
      );
      expect(views[1]).toEqual(views[0]);
      expect(views[0]).toMatchObject({ email, roles: ['admin', 'user'] });
      await expect(rowsWith(replicas[0].url, email, views[0])).resolves.toEqual([views[0]]);

      const outcomes = replicas
        .flatMap((p) => p.logs)
        .filter((l) => l.context === 'AdminBootstrap')
        .map((l) => l.msg)
        .sort();
      expect(outcomes).toEqual([
        'admin account created',
        'admin account exists; its password is left as it is',
      ]);
      expect(replicas.map((p) => p.text).join('')).not.toContain(password);
      await expect(Promise.all(replicas.map((p) => p.stop()))).resolves.toEqual([0, 0]);
    });

    it('should stop at start on a bad configuration, naming the variable, and create nothing', async () => {
      const email = emailOf('half');
      const cases = [
        [
          { ADMIN_EMAIL: email },
          'ADMIN_PASSWORD: set ADMIN_PASSWORD or ADMIN_PASSWORD_FILE with ADMIN_EMAIL',
        ],
        [{ ADMIN_PASSWORD: password }, 'ADMIN_EMAIL: set it with the administrator password'],
        [
          { ADMIN_EMAIL: email, ADMIN_PASSWORD: 'seven-7' },
          'ADMIN_PASSWORD: must be longer than or equal to 8 characters',
        ],
      ] as const;
      const replicas: UserServiceProcess[] = [];
      for (const [env] of cases) {
        replicas.push(new UserServiceProcess(await freePort(), { ...common, ...env }));
      }
      processes.push(...replicas);

      await expect(Promise.all(replicas.map((p) => p.exited))).resolves.toEqual([1, 1, 1]);
      const fatal = replicas.map((p) =>
        p.logs.filter((l) => l.level === 'fatal').map((l) => l.msg),
      );
      expect(fatal).toEqual(cases.map(([, problem]) => [`Invalid configuration: ${problem}`]));
      expect(replicas.map((p) => p.text).join('')).not.toMatch(/seven-7|replica-admin-password/);
      const app = await startApp({});
      await verify(app.getHttpServer(), email, 'seven-7').expect(401);
    });
  });
});
