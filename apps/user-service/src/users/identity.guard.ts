import { ADMIN_ROLE, IDENTITY_HEADERS, Identity } from '@app/contracts';
import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import type { IncomingHttpHeaders } from 'node:http';
import { ACCESS_RULE, AccessRule } from './access.decorators';

const USER_ID = /^[1-9]\d{0,15}$/;

/**
 * Reads the caller from the headers the gateway sets after verifying a token (a client's own copies
 * are dropped there). Undefined when there is no usable `x-user-id`.
 */
export function parseIdentity(headers: IncomingHttpHeaders): Identity | undefined {
  const userId = headers[IDENTITY_HEADERS.userId];
  // A repeated header arrives joined ("1, 2") and fails this test, as it should.
  if (typeof userId !== 'string' || !USER_ID.test(userId)) return undefined;
  const id = Number(userId);
  if (!Number.isSafeInteger(id)) return undefined;
  const roles = headers[IDENTITY_HEADERS.roles];
  const email = headers[IDENTITY_HEADERS.email];
  return {
    userId: id,
    email: typeof email === 'string' && email !== '' ? decodeEmail(email) : undefined,
    roles:
      typeof roles === 'string'
        ? [
            ...new Set(
              roles
                .split(',')
                .map((r) => r.trim())
                .filter(Boolean),
            ),
          ]
        : [],
  };
}

/** The gateway percent-encodes an address that is not plain ASCII. */
function decodeEmail(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

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
