import { ExecutionContext, ForbiddenException, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ACCESS_RULE, AccessRule } from './access.decorators';
import { IdentityGuard } from './identity.guard';

describe('IdentityGuard', () => {
  function contextFor(
    rule: AccessRule | undefined,
    headers: Record<string, string>,
    params: Record<string, string> = {},
  ): { ctx: ExecutionContext; req: Request } {
    const handler = () => undefined;
    if (rule) Reflect.defineMetadata(ACCESS_RULE, rule, handler);
    const req = { headers, params } as unknown as Request;
    const ctx = {
      getHandler: () => handler,
      getClass: () => class {},
      switchToHttp: () => ({ getRequest: () => req }),
    } as unknown as ExecutionContext;
    return { ctx, req };
  }
  const guard = new IdentityGuard(new Reflector());
  const self = { kind: 'self-or-admin', param: 'id' } as const;
  const user5 = { 'x-user-id': '5', 'x-user-roles': 'user' };
  const admin1 = { 'x-user-id': '1', 'x-user-roles': 'admin,user' };

  it('should let anyone through a public route', () => {
    expect(guard.canActivate(contextFor({ kind: 'public' }, {}).ctx)).toBe(true);
  });

  it('should require an identity when the route declares no rule', () => {
    expect(() => guard.canActivate(contextFor(undefined, {}).ctx)).toThrow(
      new UnauthorizedException('missing identity'),
    );
    const { ctx, req } = contextFor(undefined, user5);
    expect(guard.canActivate(ctx)).toBe(true);
    expect(req.identity).toEqual({ userId: 5, roles: ['user'] });
  });

  it('should let users reach their own record and refuse them anyone else', () => {
    expect(guard.canActivate(contextFor(self, user5, { id: '5' }).ctx)).toBe(true);
    expect(() => guard.canActivate(contextFor(self, user5, { id: '6' }).ctx)).toThrow(
      ForbiddenException,
    );
    expect(() => guard.canActivate(contextFor(self, user5, { id: '05' }).ctx)).toThrow(
      ForbiddenException,
    );
  });

  it('should let an admin reach any record and the admin-only routes', () => {
    expect(guard.canActivate(contextFor(self, admin1, { id: '5' }).ctx)).toBe(true);
    expect(guard.canActivate(contextFor({ kind: 'admin' }, admin1).ctx)).toBe(true);
    expect(() => guard.canActivate(contextFor({ kind: 'admin' }, user5).ctx)).toThrow(
      new ForbiddenException('admin role required'),
    );
  });

  it('should not take a role name that only contains "admin" for the admin role', () => {
    const lookalike = { 'x-user-id': '5', 'x-user-roles': 'administrator,superadmin' };
    expect(() => guard.canActivate(contextFor({ kind: 'admin' }, lookalike).ctx)).toThrow(
      ForbiddenException,
    );
  });
});
