import { Identity } from '@app/contracts';
import {
  createParamDecorator,
  ExecutionContext,
  SetMetadata,
  UnauthorizedException,
} from '@nestjs/common';
import type { Request } from 'express';

declare module 'express' {
  interface Request {
    /** The caller, set by `IdentityGuard` from the gateway's identity headers. */
    identity?: Identity;
  }
}

/** Who may call a route guarded by `IdentityGuard`. */
export type AccessRule =
  | { readonly kind: 'public' }
  | { readonly kind: 'authenticated' }
  | { readonly kind: 'admin' }
  /** The user whose id is in route parameter `param`, or an admin. */
  | { readonly kind: 'self-or-admin'; readonly param: string };

export const ACCESS_RULE = Symbol('ACCESS_RULE');

/** Anyone, without an identity (registration). */
export const Public = () => SetMetadata(ACCESS_RULE, { kind: 'public' } satisfies AccessRule);

/** Only a caller holding the admin role. */
export const AdminOnly = () => SetMetadata(ACCESS_RULE, { kind: 'admin' } satisfies AccessRule);

/** The record's own user (its id in route parameter `param`) or an admin. */
export const SelfOrAdmin = (param = 'id') =>
  SetMetadata(ACCESS_RULE, { kind: 'self-or-admin', param } satisfies AccessRule);

/** The caller's identity as parsed by `IdentityGuard`; only on routes that require one. */
export const CurrentIdentity = createParamDecorator((_: unknown, ctx: ExecutionContext) => {
  const identity = ctx.switchToHttp().getRequest<Request>().identity;
  if (!identity) throw new UnauthorizedException('missing identity');
  return identity;
});
