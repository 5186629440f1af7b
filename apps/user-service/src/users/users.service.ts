import { Identity, Page, PaginationQueryDto, UserView } from '@app/contracts';
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
import {
  CreateUserBody,
  normaliseEmail,
  UpdateUserBody,
  VerifyCredentialsBody,
} from './user-input.dto';
import { User } from './user.entity';

/** Every account starts as a plain user; roles are never set from a request body. */
export const DEFAULT_ROLES: readonly string[] = ['user'];

@Injectable()
export class UsersService {
  private readonly logger = new Logger(UsersService.name);

  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly hasher: PasswordHasher,
    private readonly writeLock: WriteLock,
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
    const email = normaliseEmail(dto.email);
    await this.assertEmailFree(email);
    const now = new Date().toISOString();
    const user = this.users.create({
      name: dto.name,
      email,
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
    if (dto.email !== undefined && normaliseEmail(dto.email) !== user.email) {
      changes.email = normaliseEmail(dto.email);
      await this.assertEmailFree(changes.email);
    }
    if (dto.password !== undefined) changes.passwordHash = await this.hasher.hash(dto.password);
    changes.updatedAt = new Date().toISOString();
    const view = await this.write(async (manager) => {
      const result = await manager.update(User, { id }, changes);
      if (!result.affected) throw this.notFound(id);
      const updated = Object.assign(user, changes).toView();
      await sealBody(manager, updated);
      return updated;
    });
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
    });
    this.logger.log({ msg: 'user deleted', userId: id, by: actor.userId });
  }

  /** The user behind an email and password; one answer for an unknown email and a wrong password. */
  async verifyCredentials(dto: VerifyCredentialsBody): Promise<UserView> {
    const user = await this.users.findOneBy({ email: normaliseEmail(dto.email) });
    const matches = await this.hasher.verify(dto.password, user?.passwordHash);
    if (!user || !matches) throw new UnauthorizedException('invalid email or password');
    return user.toView();
  }

  private async assertEmailFree(email: string): Promise<void> {
    if (await this.users.existsBy({ email })) throw this.emailTaken();
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
