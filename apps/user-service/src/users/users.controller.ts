import { ApiErrors, ApiIdParam, ApiPageResponse, IdParamPipe } from '@app/common';
import { Identity, Page, PaginationQueryDto, UserView } from '@app/contracts';
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  UseGuards,
} from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { AdminOnly, CurrentIdentity, Public, SelfOrAdmin } from './access.decorators';
import { IdentityGuard } from './identity.guard';
import { CreateUserBody, UpdateUserBody } from './user-input.dto';
import { UsersService } from './users.service';

/** Mounted at the service root: the gateway strips `/api/users` before forwarding. */
@ApiTags('users')
@Controller()
@UseGuards(IdentityGuard)
export class UsersController {
  constructor(private readonly users: UsersService) {}

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
  @ApiCreatedResponse({ type: UserView })
  @ApiErrors(400, 409)
  create(@Body() dto: CreateUserBody): Promise<UserView> {
    return this.users.create(dto);
  }

  @Patch(':id')
  @ApiIdParam()
  @SelfOrAdmin()
  @ApiOperation({
    summary: 'Change name, email or password',
    description: 'The user themself or an admin.',
  })
  @ApiOkResponse({ type: UserView })
  @ApiErrors(400, 403, 404, 409)
  update(
    @Param('id', IdParamPipe) id: number,
    @Body() dto: UpdateUserBody,
    @CurrentIdentity() actor: Identity,
  ): Promise<UserView> {
    return this.users.update(id, dto, actor);
  }

  @Delete(':id')
  @ApiIdParam()
  @SelfOrAdmin()
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a user', description: 'The user themself or an admin.' })
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiErrors(400, 403, 404)
  remove(@Param('id', IdParamPipe) id: number, @CurrentIdentity() actor: Identity): Promise<void> {
    return this.users.remove(id, actor);
  }
}
