import 'reflect-metadata';
import { IsOptional, IsString, MinLength } from 'class-validator';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateEnv } from './env-validation';
import { readSecretFile, resolveFileSecrets } from './file-secrets';

class SecretEnv {
  @IsString()
  @MinLength(8)
  API_KEY: string = 'development-key';

  @IsOptional()
  @IsString()
  OTHER?: string = undefined;
}

describe('file secrets', () => {
  let dir: string;
  const file = (name: string, content: string): string => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'file-secrets-'));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe('readSecretFile', () => {
    it.each([
      ['no newline', 's3cret', 's3cret'],
      ['one newline', 's3cret\n', 's3cret'],
      ['one CRLF', 's3cret\r\n', 's3cret'],
      ['two newlines, only the last one dropped', 's3cret\n\n', 's3cret\n'],
      ['inner newlines and spaces kept', ' a\nb \n', ' a\nb '],
    ])('should read a file with %s', (_case, content, expected) => {
      expect(readSecretFile('X_FILE', file('s', content))).toBe(expected);
    });

    it('should name the variable and the path of a missing file', () => {
      const path = join(dir, 'missing');
      expect(() => readSecretFile('JWT_SECRET_FILE', path)).toThrow(
        new RegExp(`^Invalid configuration: JWT_SECRET_FILE: cannot read ${path} \\(ENOENT`),
      );
    });

    it('should name the variable and the path of an unreadable file', () => {
      // root reads any file whatever its mode, so use a directory, which no one reads as a file.
      expect(() => readSecretFile('REDIS_PASSWORD_FILE', dir)).toThrow(
        `Invalid configuration: REDIS_PASSWORD_FILE: cannot read ${dir} (EISDIR`,
      );
    });
  });

  describe('resolveFileSecrets', () => {
    it('should put the file content in the variable and leave the input untouched', () => {
      const env = { API_KEY_FILE: file('key', 'from-the-file\n'), OTHER: 'x' };
      const resolved = resolveFileSecrets(env, ['API_KEY']);
      expect(resolved).toEqual({ ...env, API_KEY: 'from-the-file' });
      expect(env).not.toHaveProperty('API_KEY');
    });

    it('should keep a plain variable when no file is given, and ignore an empty _FILE', () => {
      expect(resolveFileSecrets({ API_KEY: 'plain' }, ['API_KEY'])).toEqual({ API_KEY: 'plain' });
      expect(resolveFileSecrets({ API_KEY: 'plain', API_KEY_FILE: '' }, ['API_KEY'])).toEqual({
        API_KEY: 'plain',
        API_KEY_FILE: '',
      });
    });

    it('should refuse both X and X_FILE, naming both', () => {
      const env = { API_KEY: 'plain', API_KEY_FILE: file('both', 'other') };
      expect(() => resolveFileSecrets(env, ['API_KEY'])).toThrow(
        'Invalid configuration: API_KEY: set API_KEY or API_KEY_FILE, not both',
      );
    });

    it('should only read the variables it is given', () => {
      const env = { OTHER_FILE: join(dir, 'missing') };
      expect(resolveFileSecrets(env, ['API_KEY'])).toEqual(env);
    });
  });

  describe('validateEnv with fileSecrets', () => {
    it('should validate the value read from the file', () => {
      const ok = validateEnv(
        SecretEnv,
        { API_KEY_FILE: file('ok', 'long-enough\n') },
        { fileSecrets: ['API_KEY'] },
      );
      expect(ok.API_KEY).toBe('long-enough');
      expect(() =>
        validateEnv(
          SecretEnv,
          { API_KEY_FILE: file('short', 'short\n') },
          { fileSecrets: ['API_KEY'] },
        ),
      ).toThrow(/^Invalid configuration: API_KEY: must be longer than or equal to 8/);
    });

    it('should not read _FILE variables unless asked to', () => {
      const env = { API_KEY_FILE: file('ignored', 'from-the-file') };
      expect(validateEnv(SecretEnv, env).API_KEY).toBe('development-key');
    });

    it('should stop on an unreadable file even when the variable has a default', () => {
      const env = { API_KEY_FILE: join(dir, 'nope') };
      expect(() => validateEnv(SecretEnv, env, { fileSecrets: ['API_KEY'] })).toThrow(
        /^Invalid configuration: API_KEY_FILE: cannot read .*nope/,
      );
    });
  });
});
