import { Logger } from '@nestjs/common';
import { ServiceMetrics } from '@app/common';
import { DatabaseMetrics, WriteLock } from '@app/database';
import { DataSource, Repository } from 'typeorm';
import { CreateUsers1764150000000 } from '../migrations/1764150000000-create-users';
import { AddEmailSkeleton1765000000200 } from '../migrations/1765000000200-add-email-skeleton';
import { AdminAccount } from './admin-bootstrap.config';
import { AdminBootstrap } from './admin-bootstrap.service';
import { PasswordHasher } from './password-hasher';
import { User } from './user.entity';

/** The lowest cost the hasher accepts back, to keep the spec quick. */
const hasher = new PasswordHasher({ logN: 10, r: 8, p: 1 });
const ROOT: AdminAccount = { email: 'root@example.com', password: 'root-password' };

describe('AdminBootstrap', () => {
  let dataSource: DataSource;
  let users: Repository<User>;
  let logs: Array<{ level: string; entry: Record<string, unknown> }>;

  const bootstrap = (using: PasswordHasher = hasher) =>
    new AdminBootstrap(
      { account: ROOT },
      users,
      using,
      new WriteLock(dataSource, new DatabaseMetrics(new ServiceMetrics(), dataSource)),
    );

  const register = async (roles: string[], password: string): Promise<User> => {
    const now = new Date().toISOString();
    const user = users.create({
      name: 'Earlier',
      email: ROOT.email,
      emailSkeleton: ROOT.email,
      passwordHash: await hasher.hash(password),
      roles,
      createdAt: now,
      updatedAt: now,
    });
    await users.insert(user);
    return user;
  };

  beforeEach(async () => {
    dataSource = new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: [User],
      migrations: [CreateUsers1764150000000, AddEmailSkeleton1765000000200],
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    users = dataSource.getRepository(User);
    logs = [];
    for (const level of ['log', 'warn'] as const) {
      jest.spyOn(Logger.prototype, level).mockImplementation((...args: unknown[]) => {
        logs.push({ level, entry: args[0] as Record<string, unknown> });
      });
    }
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await dataSource.destroy();
  });

  it('should create the admin with roles admin,user and a scrypt hash, logging no password', async () => {
    await expect(bootstrap().ensure(ROOT)).resolves.toBe('created');
    const rows = await users.find();
    expect(rows.map((u) => ({ ...u }))).toEqual([
      {
        id: 1,
        name: 'Administrator',
        email: ROOT.email,
        emailSkeleton: ROOT.email,
        passwordHash: expect.stringMatching(/^scrypt\$10\$8\$1\$/),
        roles: ['admin', 'user'],
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      },
    ]);
    await expect(hasher.verify(ROOT.password, rows[0].passwordHash)).resolves.toBe(true);
    expect(logs).toEqual([
      { level: 'log', entry: { msg: 'admin account created', userId: 1, email: ROOT.email } },
    ]);
    expect(JSON.stringify(logs)).not.toContain(ROOT.password);
  });

  it('should leave an existing admin and its password alone', async () => {
    const earlier = await register(['admin', 'user'], 'the-password-set-later');
    await expect(bootstrap().ensure(ROOT)).resolves.toBe('exists');
    const row = await users.findOneByOrFail({ id: earlier.id });
    expect({ ...row }).toEqual({ ...earlier });
    expect(logs.map((l) => l.entry.msg)).toEqual([
      'admin account exists; its password is left as it is',
    ]);
  });

  it('should promote an account that holds the configured password, password untouched', async () => {
    const earlier = await register(['user'], ROOT.password);
    await expect(bootstrap().ensure(ROOT)).resolves.toBe('promoted');
    const row = await users.findOneByOrFail({ id: earlier.id });
    expect({ ...row, updatedAt: 'later' }).toEqual({
      ...earlier,
      roles: ['admin', 'user'],
      updatedAt: 'later',
    });
    expect(logs).toEqual([
      {
        level: 'log',
        entry: {
          msg: 'admin role granted to the existing account',
          userId: earlier.id,
          email: ROOT.email,
          roles: ['admin', 'user'],
        },
      },
    ]);
  });

  it('should not promote an account registered with another password', async () => {
    const squatter = await register(['user'], 'someone-elses-password');
    await expect(bootstrap().ensure(ROOT)).resolves.toBe('refused');
    const row = await users.findOneByOrFail({ id: squatter.id });
    expect({ ...row }).toEqual({ ...squatter });
    expect(logs).toEqual([
      {
        level: 'warn',
        entry: expect.objectContaining({ userId: squatter.id, email: ROOT.email }),
      },
    ]);
  });

  it('should settle on the row of a replica that inserts between the check and the insert', async () => {
    let rival: Promise<unknown> | undefined;
    // The rival replica runs its whole bootstrap while this one is still hashing.
    const slow = new (class extends PasswordHasher {
      override async hash(password: string): Promise<string> {
        rival ??= bootstrap().ensure(ROOT);
        await rival;
        return super.hash(password);
      }
    })({ logN: 10, r: 8, p: 1 });
    await expect(bootstrap(slow).ensure(ROOT)).resolves.toBe('exists');
    await expect(rival).resolves.toBe('created');
    await expect(users.countBy({ email: ROOT.email })).resolves.toBe(1);
    expect(logs.map((l) => l.entry.msg)).toEqual([
      'admin account created',
      'admin account exists; its password is left as it is',
    ]);
  });
});
