import { parseIdentity } from '@app/common';
import { ADMIN_ROLE } from '@app/contracts';
import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ACCESS_RULE, AccessRule } from './access.decorators';

/**
 * Enforces the route's `AccessRule` (`@Public()`, `@AdminOnly()`, `@SelfOrAdmin()`; no rule means any
 * identified caller) and leaves the parsed identity on the request for `@CurrentIdentity()`.
 */
@Injectable()
export class IdentityGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, [
      context.getHandler(),
      context.getClass(),
    ]) ?? { kind: 'authenticated' };
    if (rule.kind === 'public') return true;

    const req = context.switchToHttp().getRequest<Request>();
    const identity = parseIdentity(req.headers);
    if (!identity) throw new UnauthorizedException('missing identity');
    req.identity = identity;

    if (rule.kind === 'authenticated' || identity.roles.includes(ADMIN_ROLE)) return true;
    if (rule.kind === 'self-or-admin' && req.params[rule.param] === String(identity.userId)) {
      return true;
    }
    throw new ForbiddenException(
      rule.kind === 'admin'
        ? 'admin role required'
        : 'only the user themself or an admin may do this',
    );
  }
}
