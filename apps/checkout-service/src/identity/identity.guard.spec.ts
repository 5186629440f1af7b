import { ExecutionContext, UnauthorizedException } from '@nestjs/common';
import type { Request } from 'express';
import { IdentityGuard } from './identity.guard';

describe('IdentityGuard', () => {
  const guard = new IdentityGuard();
  const contextFor = (headers: Record<string, string | undefined>) => {
    const req = { headers } as unknown as Request;
    const ctx = {
      switchToHttp: () => ({ getRequest: () => req }),
    } as unknown as ExecutionContext;
    return { ctx, req };
  };

  it('should leave the identity the gateway set on the request', () => {
    const { ctx, req } = contextFor({
      'x-user-id': '7',
      'x-user-roles': 'admin, user',
      'x-user-email': 'ada@example.com',
    });
    expect(guard.canActivate(ctx)).toBe(true);
    expect(req.identity).toStrictEqual({
      userId: 7,
      roles: ['admin', 'user'],
      email: 'ada@example.com',
    });
  });

  it.each([{}, { 'x-user-id': '0' }, { 'x-user-id': 'abc', 'x-user-roles': 'admin' }])(
    'should refuse %j as missing identity',
    (headers) => {
      const { ctx, req } = contextFor(headers);
      expect(() => guard.canActivate(ctx)).toThrow(new UnauthorizedException('missing identity'));
      expect(req.identity).toBeUndefined();
    },
  );
});
