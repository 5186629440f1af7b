import { parseIdentity } from './identity';

describe('parseIdentity', () => {
  it('should read the id, the email and the comma-separated roles, each role once', () => {
    expect(
      parseIdentity({
        'x-user-id': '42',
        'x-user-email': 'ada@example.com',
        'x-user-roles': 'admin, user,,admin',
      }),
    ).toStrictEqual({ userId: 42, email: 'ada@example.com', roles: ['admin', 'user'] });
  });

  it('should decode a percent-encoded email and default to no roles', () => {
    expect(
      parseIdentity({ 'x-user-id': '7', 'x-user-email': 'j%C3%BCrgen@example.com' }),
    ).toStrictEqual({ userId: 7, email: 'jürgen@example.com', roles: [] });
  });

  it('should leave out an email that is absent or not decodable', () => {
    expect(parseIdentity({ 'x-user-id': '2' })).toStrictEqual({ userId: 2, roles: [] });
    expect(parseIdentity({ 'x-user-id': '2', 'x-user-email': '%E0%A4%A' })).toStrictEqual({
      userId: 2,
      roles: [],
    });
  });

  it.each([undefined, '', '0', '-1', '01', '1.5', 'abc', '1, 2', '99999999999999999', ['1', '2']])(
    'should find no identity for x-user-id %p',
    (id) => {
      expect(parseIdentity(id === undefined ? {} : { 'x-user-id': id })).toBeUndefined();
    },
  );
});
