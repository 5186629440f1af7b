import {
  canonicalEmail,
  emailSkeleton,
  Identity,
  Page,
  PaginationQueryDto,
  UserView,
} from '@app/contracts';
import {
  ConflictException,
  Injectable,
  Logger,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import { isUniqueViolation, NO_SEAL_BODY, SealBody, WriteLock } from '@app/database';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { PasswordHasher } from './password-hasher';
import { SessionRevoker } from './session-revoker';
import { CreateUserBody, UpdateUserBody, VerifyCredentialsBody } from './user-input.dto';
import { User } from './user.entity';

/** Every account starts as a plain user; roles are never set from a request body. */
const DEFAULT_ROLES: readonly string[] = ['user'];

@Injectable()
export class UsersService {
  private readonly logger = new Logger(UsersService.name);

  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly hasher: PasswordHasher,
    private readonly writeLock: WriteLock,
    private readonly sessions: SessionRevoker,
  ) {}

  async list({ limit, offset }: PaginationQueryDto): Promise<Page<UserView>> {
    const [rows, total] = await this.users.findAndCount({
      order: { id: 'ASC' },
      take: limit,
      skip: offset,
    });
    return { items: rows.map((u) => u.toView()), total, limit, offset };
  }

  async get(id: number): Promise<UserView> {
    return (await this.findOrFail(id)).toView();
  }

  /**
   * Writes are transactions through the `WriteLock` (on SQLite a statement sent while another
   * write's transaction is open would run inside it); `sealBody` records the answer of a keyed
   * request in the same transaction.
   */
  async create(dto: CreateUserBody, sealBody: SealBody = NO_SEAL_BODY): Promise<UserView> {
    const email = canonicalEmail(dto.email);
    await this.assertEmailFree(email);
    const now = new Date().toISOString();
    const user = this.users.create({
      name: dto.name,
      email,
      emailSkeleton: emailSkeleton(email),
      passwordHash: await this.hasher.hash(dto.password),
      roles: [...DEFAULT_ROLES],
      createdAt: now,
      updatedAt: now,
    });
    // The unique constraint settles a race between two sign-ups with one address.
    return this.write(async (manager) => {
      await manager.insert(User, user);
      const view = user.toView();
      await sealBody(manager, view);
      return view;
    });
  }

  async update(
    id: number,
    dto: UpdateUserBody,
    actor: Identity,
    sealBody: SealBody = NO_SEAL_BODY,
  ): Promise<UserView> {
    const user = await this.findOrFail(id);
    const changes: Partial<User> = {};
    if (dto.name !== undefined) changes.name = dto.name;
    const email = dto.email === undefined ? undefined : canonicalEmail(dto.email);
    if (email !== undefined && email !== user.email) {
      changes.email = email;
      changes.emailSkeleton = emailSkeleton(email);
      await this.assertEmailFree(email, id);
    }
    if (dto.password !== undefined) changes.passwordHash = await this.hasher.hash(dto.password);
    changes.updatedAt = new Date().toISOString();
    const signOut = changes.passwordHash !== undefined;
    const view = await this.write(async (manager) => {
      const result = await manager.update(User, { id }, changes);
      if (!result.affected) throw this.notFound(id);
      const updated = Object.assign(user, changes).toView();
      await sealBody(manager, updated);
      // Last, so that a refusal rolls the change back.
      if (signOut) await this.sessions.revokeOrRefuse(id, 'password changed');
      return updated;
    });
    if (signOut) this.sessions.revokeAfterCommit(id, 'password changed');
    this.logger.log({
      msg: 'user updated',
      userId: id,
      by: actor.userId,
      fields: Object.keys(dto),
    });
    return view;
  }

  async remove(id: number, actor: Identity, sealBody: SealBody = NO_SEAL_BODY): Promise<void> {
    await this.write(async (manager) => {
      const result = await manager.delete(User, { id });
      if (!result.affected) throw this.notFound(id);
      await sealBody(manager, null);
      await this.sessions.revokeOrRefuse(id, 'account deleted');
    });
    this.sessions.revokeAfterCommit(id, 'account deleted');
    this.logger.log({ msg: 'user deleted', userId: id, by: actor.userId });
  }

  /** Sets the account's roles (admins only); removing any role signs the user out everywhere. */
  async setRoles(
    id: number,
    roles: string[],
    actor: Identity,
    sealBody: SealBody = NO_SEAL_BODY,
  ): Promise<UserView> {
    const user = await this.findOrFail(id);
    const removed = user.roles.filter((r) => !roles.includes(r));
    const view = await this.write(async (manager) => {
      const result = await manager.update(
        User,
        { id },
        { roles, updatedAt: new Date().toISOString() },
      );
      if (!result.affected) throw this.notFound(id);
      const updated = Object.assign(user, { roles }).toView();
      await sealBody(manager, updated);
      if (removed.length > 0) await this.sessions.revokeOrRefuse(id, 'role removed');
      return updated;
    });
    if (removed.length > 0) this.sessions.revokeAfterCommit(id, 'role removed');
    this.logger.log({ msg: 'user roles set', userId: id, by: actor.userId, roles, removed });
    return view;
  }

  /** The user behind an email and password; one answer for an unknown email and a wrong password. */
  async verifyCredentials(dto: VerifyCredentialsBody): Promise<UserView> {
    const user = await this.users.findOneBy({ email: canonicalEmail(dto.email) });
    const matches = await this.hasher.verify(dto.password, user?.passwordHash);
    if (!user || !matches) throw new UnauthorizedException('invalid email or password');
    return user.toView();
  }

  /** 409 when another account has the address, or one that looks the same (`emailSkeleton`). */
  private async assertEmailFree(email: string, ownId?: number): Promise<void> {
    if (await this.users.existsBy({ email })) throw this.emailTaken();
    const lookAlike = await this.users.findOneBy({ emailSkeleton: emailSkeleton(email) });
    if (lookAlike && lookAlike.id !== ownId) {
      throw new ConflictException('email looks like the address of an existing account');
    }
  }

  private async write<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    try {
      return await this.writeLock.transaction(work);
    } catch (err) {
      throw isUniqueViolation(err) ? this.emailTaken() : err;
    }
  }

  private async findOrFail(id: number): Promise<User> {
    const user = await this.users.findOneBy({ id });
    if (!user) throw this.notFound(id);
    return user;
  }

  private emailTaken(): ConflictException {
    return new ConflictException('email already registered');
  }

  private notFound(id: number): NotFoundException {
    return new NotFoundException(`user ${id} not found`);
  }
}
