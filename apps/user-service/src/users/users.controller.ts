import { ApiErrors, ApiIdParam, ApiPageResponse, IdParamPipe } from '@app/common';
import {
  canonicalEmail,
  Identity,
  Page,
  PaginationQueryDto,
  SetRolesDto,
  UserView,
} from '@app/contracts';
import { IdempotencyService, IdempotentWrite, sendIdempotent, WriteRequest } from '@app/database';
import {
  Body,
  Controller,
  Delete,
  Get,
  Param,
  Patch,
  Post,
  Put,
  Query,
  Res,
  UseGuards,
} from '@nestjs/common';
import type { Response } from 'express';
import {
  ApiCreatedResponse,
  ApiHeader,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { AdminOnly, CurrentIdentity, Public, SelfOrAdmin } from './access.decorators';
import { IdentityGuard } from './identity.guard';
import { CreateUserBody, UpdateUserBody } from './user-input.dto';
import { UsersService } from './users.service';

const IDEMPOTENCY_KEY_HEADER = {
  name: 'Idempotency-Key',
  required: false,
  description:
    '1 to 255 visible ASCII characters: a retry with the same key and body gets the first answer ' +
    '(`Idempotency-Replayed: true`), with another body 422, while the first still runs 409. ' +
    'The password is not part of the comparison (no fast hash of it is stored).',
} as const;

/** Mounted at the service root: the gateway strips `/api/users` before forwarding. */
@ApiTags('users')
@Controller()
@UseGuards(IdentityGuard)
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly idempotency: IdempotencyService,
  ) {}

  @Get()
  @AdminOnly()
  @ApiOperation({ summary: 'List users, by id', description: 'Admins only.' })
  @ApiPageResponse(UserView)
  @ApiErrors(400, 403)
  list(@Query() query: PaginationQueryDto): Promise<Page<UserView>> {
    return this.users.list(query);
  }

  @Get(':id')
  @ApiIdParam()
  @SelfOrAdmin()
  @ApiOperation({ summary: 'Get one user', description: 'The user themself or an admin.' })
  @ApiOkResponse({ type: UserView })
  @ApiErrors(400, 403, 404)
  get(@Param('id', IdParamPipe) id: number): Promise<UserView> {
    return this.users.get(id);
  }

  /** Registration. */
  @Post()
  @Public()
  @ApiOperation({
    summary: 'Register',
    description: 'Open to anyone; the new user has role `user`.',
  })
  @ApiHeader(IDEMPOTENCY_KEY_HEADER)
  @ApiCreatedResponse({ type: UserView })
  @ApiErrors(400, 409, 422)
  async create(
    @Body() dto: CreateUserBody,
    @IdempotentWrite() write: WriteRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<unknown> {
    const email = canonicalEmail(dto.email);
    // Anonymous: a key belongs to the address it registers, so strangers' keys never meet.
    const signup = { ...write, scope: `signup:${email}` };
    const fingerprint = { op: 'users.create', name: dto.name, email };
    const result = await this.idempotency.perform(signup, fingerprint, 201, (sealBody) =>
      this.users.create(dto, sealBody),
    );
    return sendIdempotent(res, result);
  }

  @Patch(':id')
  @ApiIdParam()
  @SelfOrAdmin()
  @ApiOperation({
    summary: 'Change name, email or password',
    description: 'The user themself or an admin.',
  })
  @ApiHeader(IDEMPOTENCY_KEY_HEADER)
  @ApiOkResponse({ type: UserView })
  @ApiErrors(400, 403, 404, 409, 422)
  async update(
    @Param('id', IdParamPipe) id: number,
    @Body() dto: UpdateUserBody,
    @CurrentIdentity() actor: Identity,
    @IdempotentWrite() write: WriteRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<unknown> {
    const fingerprint = {
      op: 'users.update',
      id,
      name: dto.name ?? null,
      email: dto.email === undefined ? null : canonicalEmail(dto.email),
      password: dto.password !== undefined,
    };
    const result = await this.idempotency.perform(write, fingerprint, 200, (sealBody) =>
      this.users.update(id, dto, actor, sealBody),
    );
    return sendIdempotent(res, result);
  }

  @Put(':id/roles')
  @ApiIdParam()
  @AdminOnly()
  @ApiOperation({
    summary: "Set a user's roles",
    description: 'Admins only. Removing a role revokes every token of the user at once.',
  })
  @ApiHeader(IDEMPOTENCY_KEY_HEADER)
  @ApiOkResponse({ type: UserView })
  @ApiErrors(400, 403, 404, 409, 422, 503)
  async setRoles(
    @Param('id', IdParamPipe) id: number,
    @Body() dto: SetRolesDto,
    @CurrentIdentity() actor: Identity,
    @IdempotentWrite() write: WriteRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<unknown> {
    const fingerprint = { op: 'users.setRoles', id, roles: [...dto.roles].sort().join(',') };
    const result = await this.idempotency.perform(write, fingerprint, 200, (sealBody) =>
      this.users.setRoles(id, dto.roles, actor, sealBody),
    );
    return sendIdempotent(res, result);
  }

  @Delete(':id')
  @ApiIdParam()
  @SelfOrAdmin()
  @ApiOperation({ summary: 'Remove a user', description: 'The user themself or an admin.' })
  @ApiHeader(IDEMPOTENCY_KEY_HEADER)
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiErrors(400, 403, 404, 409, 422)
  async remove(
    @Param('id', IdParamPipe) id: number,
    @CurrentIdentity() actor: Identity,
    @IdempotentWrite() write: WriteRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<unknown> {
    const result = await this.idempotency.perform(
      write,
      { op: 'users.remove', id },
      204,
      (sealBody) => this.users.remove(id, actor, sealBody),
    );
    return sendIdempotent(res, result);
  }
}
