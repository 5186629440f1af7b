import { parseIdentity } from '@app/common';
import type { Identity } from '@app/contracts';
import {
  CanActivate,
  createParamDecorator,
  ExecutionContext,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import type { Request } from 'express';
import type { CallContext } from '../clients/call-context';

declare module 'express' {
  interface Request {
    identity?: Identity;
  }
}

/**
 * Refuses a request the gateway did not sign in with 401 "missing identity" (it runs before body
 * validation, so 401 wins over 400) and leaves the identity on the request for `@Caller()`.
 */
@Injectable()
export class IdentityGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    const identity = parseIdentity(req.headers);
    if (!identity) throw new UnauthorizedException('missing identity');
    req.identity = identity;
    return true;
  }
}

/** The identity and request id of a request that passed `IdentityGuard`. */
export const Caller = createParamDecorator((_: unknown, context: ExecutionContext): CallContext => {
  const req = context.switchToHttp().getRequest<Request>();
  if (!req.identity) throw new UnauthorizedException('missing identity');
  return { identity: req.identity, requestId: req.requestId ?? '' };
});
