import { UnauthorizedException } from '@nestjs/common';
import { identityFrom } from './identity.guard';

describe('identityFrom', () => {
  it('should read the user id, roles and email the gateway set', () => {
    expect(
      identityFrom({
        'x-user-id': '7',
        'x-user-roles': 'admin, user',
        'x-user-email': 'ada@example.com',
      }),
    ).toEqual({ userId: 7, roles: ['admin', 'user'], email: 'ada@example.com' });
  });

  it('should give no roles when the header is absent', () => {
    expect(identityFrom({ 'x-user-id': '2' })).toEqual({ userId: 2, roles: [] });
  });

  it.each([undefined, '', '0', '-1', '1.5', 'abc', '01', '12345678901234567', ['1', '2']])(
    'should refuse the user id %p as missing identity',
    (id) => {
      expect(() => identityFrom({ 'x-user-id': id })).toThrow(
        new UnauthorizedException('missing identity'),
      );
    },
  );
});
