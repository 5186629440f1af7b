import { Identity, Page, PaginationQueryDto, UserView } from '@app/contracts';
import {
  ConflictException,
  Injectable,
  Logger,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import { isUniqueViolation } from '@app/database';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
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

  async create(dto: CreateUserBody): Promise<UserView> {
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
    // A single INSERT (no wrapping transaction); the unique constraint settles a race.
    await this.write(() => this.users.insert(user));
    return user.toView();
  }

  async update(id: number, dto: UpdateUserBody, actor: Identity): Promise<UserView> {
    const user = await this.findOrFail(id);
    const changes: Partial<User> = {};
    if (dto.name !== undefined) changes.name = dto.name;
    if (dto.email !== undefined && normaliseEmail(dto.email) !== user.email) {
      changes.email = normaliseEmail(dto.email);
      await this.assertEmailFree(changes.email);
    }
    if (dto.password !== undefined) changes.passwordHash = await this.hasher.hash(dto.password);
    changes.updatedAt = new Date().toISOString();
    const result = await this.write(() => this.users.update({ id }, changes));
    if (!result.affected) throw this.notFound(id);
    this.logger.log({
      msg: 'user updated',
      userId: id,
      by: actor.userId,
      fields: Object.keys(dto),
    });
    return Object.assign(user, changes).toView();
  }

  async remove(id: number, actor: Identity): Promise<void> {
    const result = await this.users.delete({ id });
    if (!result.affected) throw this.notFound(id);
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

  private async write<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query();
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
