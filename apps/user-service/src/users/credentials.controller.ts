import { ApiErrors } from '@app/common';
import { UserView } from '@app/contracts';
import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { VerifyCredentialsBody } from './user-input.dto';
import { UsersService } from './users.service';

/** Called by the gateway's login only: the gateway never forwards a client's `/internal` path. */
@ApiTags('internal')
@Controller('internal/credentials')
export class CredentialsController {
  constructor(private readonly users: UsersService) {}

  @Post('verify')
  @HttpCode(200)
  @ApiOperation({ summary: 'Check an email and password (gateway login only)' })
  @ApiOkResponse({ type: UserView })
  @ApiErrors(400, 401)
  verify(@Body() dto: VerifyCredentialsBody): Promise<UserView> {
    return this.users.verifyCredentials(dto);
  }
}
