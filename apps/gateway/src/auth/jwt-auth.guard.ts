import {
  CanActivate,
  createParamDecorator,
  ExecutionContext,
  HttpException,
  Injectable,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { STATUS_CODES } from 'node:http';
import { AUTHENTICATED, AuthPolicy, parseAuthPolicy } from '../routing/auth-policy';
import { AuthService } from './auth.service';
import { authorizationOf } from './bearer-token';
import type { Principal } from './principal';

declare module 'express' {
  interface Request {
    principal?: Principal;
  }
}

const AUTH_POLICY = 'gateway:auth-policy';

/** Restricts a gateway endpoint to users holding `role` (with `JwtAuthGuard`). */
export const RequireRole = (role: string) =>
  SetMetadata(AUTH_POLICY, parseAuthPolicy(`role:${role}`));

/** The verified caller of a guarded endpoint. */
export const CurrentPrincipal = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): Principal => {
    const principal = ctx.switchToHttp().getRequest<Request>().principal;
    // Only reachable when the endpoint forgot @UseGuards(JwtAuthGuard): a programming error.
    if (!principal) throw new Error('CurrentPrincipal used on an endpoint without JwtAuthGuard');
    return principal;
  },
);

/**
 * The Nest side of authentication for the gateway's own endpoints. It runs `AuthService.authorize`,
 * the same check the request pipeline's Authorization step runs, and turns a refusal into the standard error body
 * with its `WWW-Authenticate` challenge.
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly auth: AuthService,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const policy =
      this.reflector.getAllAndOverride<AuthPolicy | undefined>(AUTH_POLICY, [
        context.getHandler(),
        context.getClass(),
      ]) ?? AUTHENTICATED;
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    const outcome = await this.auth.authorize(policy, authorizationOf(req));
    if (outcome.ok) {
      req.principal = outcome.principal;
      return true;
    }
    if (outcome.challenge)
      http.getResponse<Response>().setHeader('WWW-Authenticate', outcome.challenge);
    throw new HttpException(
      { statusCode: outcome.status, error: STATUS_CODES[outcome.status], message: outcome.message },
      outcome.status,
    );
  }
}
