import { AUTHENTICATED, formatAuthPolicy, parseAuthPolicy, PUBLIC } from './auth-policy';

describe('parseAuthPolicy', () => {
  it('should read public, authenticated and role:<name>', () => {
    expect(parseAuthPolicy('public')).toBe(PUBLIC);
    expect(parseAuthPolicy('authenticated')).toBe(AUTHENTICATED);
    expect(parseAuthPolicy('role:admin')).toEqual({ kind: 'role', role: 'admin' });
    expect(formatAuthPolicy(parseAuthPolicy('role:admin'))).toBe('role:admin');
  });

  it.each(['', 'Public', 'role:', 'role:a,b', 'role: admin', 'admin'])(
    'should refuse %p',
    (text) => {
      expect(() => parseAuthPolicy(text)).toThrow(/unknown auth policy/);
    },
  );
});
