import { ApiErrors } from '@app/common';
import { VerifyCredentialsDto } from '@app/contracts';
import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  HttpStatus,
  HttpException,
  Inject,
  Post,
  Req,
  Res,
  ServiceUnavailableException,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { clientAddress } from '../routing/client-address';
import { AuthService, TokenResponse } from './auth.service';
import { TRUSTED_PROXY_HOPS } from './auth.tokens';
import { CurrentPrincipal, JwtAuthGuard } from './jwt-auth.guard';
import { AccessClaims, Principal } from './principal';
import { RedisUnavailableError } from '../redis/redis-connection';

export class LoginDto extends VerifyCredentialsDto {}

/** `/api/auth/**`: served by the gateway itself, never proxied. */
@ApiTags('auth')
@Controller('api/auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    @Inject(TRUSTED_PROXY_HOPS) private readonly trustedProxyHops: number,
  ) {}

  @Post('login')
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Sign in: trade an email and password for an access token' })
  @ApiOkResponse({
    schema: {
      type: 'object',
      required: ['accessToken', 'tokenType', 'expiresIn'],
      properties: {
        accessToken: { type: 'string', description: 'A JWT; send it as `Authorization: Bearer`' },
        tokenType: { type: 'string', enum: ['Bearer'] },
        expiresIn: { type: 'integer', description: 'Seconds until the token expires' },
      },
    },
  })
  @ApiErrors(400, 401, 429, 503)
  async login(
    @Body() dto: LoginDto,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<TokenResponse> {
    const result = await this.auth.login(
      dto.email,
      dto.password,
      clientAddress(req, this.trustedProxyHops),
      req.requestId,
    );
    switch (result.kind) {
      case 'ok':
        return result.token;
      case 'invalid':
        // The same answer for an unknown email and a wrong password.
        throw new UnauthorizedException('invalid email or password');
      case 'limited':
        res.setHeader('Retry-After', String(result.retryAfterSeconds));
        throw new HttpException(
          'too many login attempts, try again later',
          HttpStatus.TOO_MANY_REQUESTS,
        );
      case 'unavailable':
        throw new ServiceUnavailableException(result.message);
    }
  }

  @Post('logout')
  @HttpCode(HttpStatus.NO_CONTENT)
  @UseGuards(JwtAuthGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Revoke the token of this request' })
  @ApiNoContentResponse({ description: 'Revoked' })
  @ApiErrors(503)
  async logout(@CurrentPrincipal() principal: Principal): Promise<void> {
    await storeCall(() => this.auth.logout(principal));
  }

  @Post('logout-all')
  @HttpCode(HttpStatus.NO_CONTENT)
  @UseGuards(JwtAuthGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: "Revoke every token of the token's user" })
  @ApiNoContentResponse({ description: 'Revoked' })
  @ApiErrors(503)
  async logoutAll(@CurrentPrincipal() principal: Principal): Promise<void> {
    await storeCall(() => this.auth.logoutAll(principal));
  }

  @Get('me')
  @UseGuards(JwtAuthGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'The claims of the token of this request' })
  @ApiOkResponse({
    schema: {
      type: 'object',
      properties: {
        sub: { type: 'string', description: 'User id' },
        email: { type: 'string' },
        roles: { type: 'array', items: { type: 'string' } },
        iat: { type: 'integer' },
        exp: { type: 'integer' },
        jti: { type: 'string' },
        iss: { type: 'string' },
        aud: { type: 'string' },
      },
    },
  })
  me(@CurrentPrincipal() principal: Principal): AccessClaims {
    return principal.claims;
  }
}

async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof RedisUnavailableError) {
      throw new ServiceUnavailableException('authentication is temporarily unavailable');
    }
    throw err;
  }
}
