import { IDENTITY_HEADERS, Identity } from '@app/contracts';
import {
  CanActivate,
  createParamDecorator,
  ExecutionContext,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import type { Request } from 'express';
import type { IncomingHttpHeaders } from 'node:http';
import type { CallContext } from '../clients/call-context';

declare module 'express' {
  interface Request {
    identity?: Identity;
  }
}

const USER_ID = /^[1-9]\d{0,15}$/;

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value;
}

/**
 * The caller as the gateway vouches for it in `X-User-Id` / `X-User-Email` / `X-User-Roles`.
 * @throws UnauthorizedException ("missing identity") when the user id is absent or not a positive integer.
 */
export function identityFrom(headers: IncomingHttpHeaders): Identity {
  const rawId = single(headers[IDENTITY_HEADERS.userId])?.trim();
  if (rawId === undefined || !USER_ID.test(rawId) || !Number.isSafeInteger(Number(rawId))) {
    throw new UnauthorizedException('missing identity');
  }
  const roles = (single(headers[IDENTITY_HEADERS.roles]) ?? '')
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r.length > 0);
  const email = single(headers[IDENTITY_HEADERS.email])?.trim();
  return { userId: Number(rawId), roles, ...(email ? { email } : {}) };
}

/** Refuses a request the gateway did not sign in (runs before body validation, so 401 wins over 400). */
@Injectable()
export class IdentityGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    req.identity = identityFrom(req.headers);
    return true;
  }
}

/** The identity and request id of a request that passed `IdentityGuard`. */
export const Caller = createParamDecorator((_: unknown, context: ExecutionContext): CallContext => {
  const req = context.switchToHttp().getRequest<Request>();
  if (!req.identity) throw new UnauthorizedException('missing identity');
  return { identity: req.identity, requestId: req.requestId ?? '' };
});
