import { emailSkeleton } from '@app/contracts';
import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { isUniqueViolation, WriteLock } from '@app/database';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AdminAccount, adminBootstrapConfig } from './admin-bootstrap.config';
import { PasswordHasher } from './password-hasher';
import { User } from './user.entity';

export const ADMIN_ROLE = 'admin';
const ADMIN_ACCOUNT_NAME = 'Administrator';

/**
 * What the start found: `created` the account; it `exists` with the admin role; `promoted` an
 * account that knew the configured password; `refused` to promote one that did not.
 */
export type AdminBootstrapOutcome = 'created' | 'exists' | 'promoted' | 'refused';

/**
 * Makes sure the configured administrator exists once the schema is ready (migrations run in
 * `onModuleInit`, before every `onApplicationBootstrap`), so a production database that gets no
 * seed rows still has someone who can manage it. An existing password is never changed. Its writes
 * go through the `WriteLock` like every other write of the service.
 */
@Injectable()
export class AdminBootstrap implements OnApplicationBootstrap {
  private readonly logger = new Logger(AdminBootstrap.name);

  constructor(
    @Inject(adminBootstrapConfig.KEY)
    private readonly config: ConfigType<typeof adminBootstrapConfig>,
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly hasher: PasswordHasher,
    private readonly writeLock: WriteLock,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.account) await this.ensure(this.config.account);
  }

  async ensure(account: AdminAccount): Promise<AdminBootstrapOutcome> {
    const existing = await this.users.findOneBy({ email: account.email });
    if (existing) return this.settle(existing, account);
    const now = new Date().toISOString();
    const user = this.users.create({
      name: ADMIN_ACCOUNT_NAME,
      email: account.email,
      emailSkeleton: emailSkeleton(account.email),
      passwordHash: await this.hasher.hash(account.password),
      roles: [ADMIN_ROLE, 'user'],
      createdAt: now,
      updatedAt: now,
    });
    try {
      await this.writeLock.run(() => this.users.insert(user));
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      // Another replica starting at the same moment inserted it first.
      return this.settle(await this.users.findOneByOrFail({ email: account.email }), account);
    }
    this.logger.log({ msg: 'admin account created', userId: user.id, email: account.email });
    return 'created';
  }

  private async settle(user: User, account: AdminAccount): Promise<AdminBootstrapOutcome> {
    const about = { userId: user.id, email: user.email };
    if (user.roles.includes(ADMIN_ROLE)) {
      this.logger.log({ msg: 'admin account exists; its password is left as it is', ...about });
      return 'exists';
    }
    // Sign-up is open and addresses are not verified, so whoever registered this address first
    // owns the account: only the holder of the configured password is made an admin.
    if (!(await this.hasher.verify(account.password, user.passwordHash))) {
      this.logger.warn({
        msg: 'an account with ADMIN_EMAIL exists without the admin role and with another password; not promoted',
        ...about,
      });
      return 'refused';
    }
    const roles = [ADMIN_ROLE, ...user.roles];
    await this.writeLock.run(() =>
      this.users.update({ id: user.id }, { roles, updatedAt: new Date().toISOString() }),
    );
    this.logger.log({ msg: 'admin role granted to the existing account', ...about, roles });
    return 'promoted';
  }
}
