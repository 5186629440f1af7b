import { CreateUserDto } from '@app/contracts';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminBootstrapConfig, adminBootstrapConfig } from './admin-bootstrap.config';

describe('adminBootstrapConfig', () => {
  const saved = { ...process.env };
  const vars = ['ADMIN_EMAIL', 'ADMIN_PASSWORD', 'ADMIN_PASSWORD_FILE'];
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'admin-bootstrap-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => {
    process.env = { ...saved };
  });

  const load = (env: Record<string, string>): AdminBootstrapConfig => {
    for (const name of vars) delete process.env[name];
    Object.assign(process.env, env);
    return adminBootstrapConfig();
  };

  const secretFile = (name: string, content: string): string => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  it('should ask for no account when neither variable is set', () => {
    expect(load({})).toEqual({});
    expect(load({ ADMIN_EMAIL: '', ADMIN_PASSWORD: '' })).toEqual({});
  });

  it('should normalise the email like a sign-up does', () => {
    expect(load({ ADMIN_EMAIL: ' Root@Example.COM ', ADMIN_PASSWORD: 'root-password' })).toEqual({
      account: { email: 'root@example.com', password: 'root-password' },
    });
  });

  it('should read the password from ADMIN_PASSWORD_FILE without its trailing newline', () => {
    const file = secretFile('admin_password', 'from the secret file\n');
    expect(load({ ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD_FILE: file })).toEqual({
      account: { email: 'root@example.com', password: 'from the secret file' },
    });
  });

  it('should name the missing half when only one of email and password is set', () => {
    expect(() => load({ ADMIN_EMAIL: 'root@example.com' })).toThrow(
      'Invalid configuration: ADMIN_PASSWORD: set ADMIN_PASSWORD or ADMIN_PASSWORD_FILE with ADMIN_EMAIL',
    );
    expect(() => load({ ADMIN_PASSWORD: 'root-password' })).toThrow(
      'Invalid configuration: ADMIN_EMAIL: set it with the administrator password',
    );
    const file = secretFile('only-file', 'root-password');
    expect(() => load({ ADMIN_PASSWORD_FILE: file })).toThrow(
      'Invalid configuration: ADMIN_EMAIL: set it with the administrator password',
    );
  });

  it('should refuse an address that is not an email', () => {
    expect(() => load({ ADMIN_EMAIL: 'root', ADMIN_PASSWORD: 'root-password' })).toThrow(
      'Invalid configuration: ADMIN_EMAIL="root": must be an email address',
    );
  });

  it('should hold the password to the sign-up rule, and never print it', () => {
    const outcome = (password: string) => {
      const signUp = validateSync(
        plainToInstance(CreateUserDto, { name: 'Root', email: 'root@example.com', password }),
      ).length;
      let bootstrap: string;
      try {
        load({ ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: password });
        bootstrap = 'accepted';
      } catch (err) {
        bootstrap = (err as Error).message;
      }
      return { signUp: signUp === 0 ? 'accepted' : 'refused', bootstrap };
    };
    expect(outcome('7-chars')).toEqual({
      signUp: 'refused',
      bootstrap:
        'Invalid configuration: ADMIN_PASSWORD: must be longer than or equal to 8 characters',
    });
    expect(outcome('8-chars!')).toEqual({ signUp: 'accepted', bootstrap: 'accepted' });
    expect(outcome('x'.repeat(128))).toEqual({ signUp: 'accepted', bootstrap: 'accepted' });
    expect(outcome('x'.repeat(129))).toEqual({
      signUp: 'refused',
      bootstrap:
        'Invalid configuration: ADMIN_PASSWORD: must be shorter than or equal to 128 characters',
    });
  });

  it('should refuse both password forms at once, an unreadable file and an empty one', () => {
    const file = secretFile('both', 'root-password');
    expect(() =>
      load({
        ADMIN_EMAIL: 'root@example.com',
        ADMIN_PASSWORD: 'root-password',
        ADMIN_PASSWORD_FILE: file,
      }),
    ).toThrow(
      'Invalid configuration: ADMIN_PASSWORD: set ADMIN_PASSWORD or ADMIN_PASSWORD_FILE, not both',
    );
    expect(() =>
      load({ ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD_FILE: join(dir, 'missing') }),
    ).toThrow(/^Invalid configuration: ADMIN_PASSWORD_FILE: cannot read .*missing/);
    const empty = secretFile('empty', '\n');
    expect(() => load({ ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD_FILE: empty })).toThrow(
      `Invalid configuration: ADMIN_PASSWORD_FILE: ${empty} is empty`,
    );
  });
});
