import { IdParamPipe } from '@app/common';
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
import { AdminOnly, CurrentIdentity, Public, SelfOrAdmin } from './access.decorators';
import { IdentityGuard } from './identity.guard';
import { CreateUserBody, UpdateUserBody } from './user-input.dto';
import { UsersService } from './users.service';

/** Mounted at the service root: the gateway strips `/api/users` before forwarding. */
@Controller()
@UseGuards(IdentityGuard)
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get()
  @AdminOnly()
  list(@Query() query: PaginationQueryDto): Promise<Page<UserView>> {
    return this.users.list(query);
  }

  @Get(':id')
  @SelfOrAdmin()
  get(@Param('id', IdParamPipe) id: number): Promise<UserView> {
    return this.users.get(id);
  }

  /** Registration. */
  @Post()
  @Public()
  create(@Body() dto: CreateUserBody): Promise<UserView> {
    return this.users.create(dto);
  }

  @Patch(':id')
  @SelfOrAdmin()
  update(
    @Param('id', IdParamPipe) id: number,
    @Body() dto: UpdateUserBody,
    @CurrentIdentity() actor: Identity,
  ): Promise<UserView> {
    return this.users.update(id, dto, actor);
  }

  @Delete(':id')
  @SelfOrAdmin()
  @HttpCode(204)
  remove(@Param('id', IdParamPipe) id: number, @CurrentIdentity() actor: Identity): Promise<void> {
    return this.users.remove(id, actor);
  }
}
