import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseConfig, databaseConfig } from './database.config';

describe('databaseConfig', () => {
  const saved = { ...process.env };
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'database-config-'));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  afterEach(() => {
    process.env = { ...saved };
  });

  const load = (env: Record<string, string>): DatabaseConfig => {
    for (const key of Object.keys(process.env)) {
      if (key.startsWith('DATABASE_') || key === 'SEED_DATA' || key === 'NODE_ENV') {
        delete process.env[key];
      }
    }
    Object.assign(process.env, env);
    return databaseConfig();
  };

  it('should read the PostgreSQL URL from DATABASE_URL_FILE without its trailing newline', () => {
    const file = join(dir, 'url');
    writeFileSync(file, 'postgres://api:s3cret@postgres:5432/products\n');
    expect(load({ DATABASE_URL_FILE: file, NODE_ENV: 'production' })).toEqual({
      url: 'postgres://api:s3cret@postgres:5432/products',
      path: undefined,
      seed: false,
    });
  });

  it('should validate the URL read from the file like a plain one', () => {
    const file = join(dir, 'bad-url');
    writeFileSync(file, 'mysql://db/products\n');
    expect(() => load({ DATABASE_URL_FILE: file })).toThrow(
      'Invalid configuration: DATABASE_URL="mysql://db/products": must be a postgres:// URL',
    );
  });

  it('should refuse DATABASE_URL together with DATABASE_URL_FILE, and an unreadable file', () => {
    const file = join(dir, 'both');
    writeFileSync(file, 'postgres://a@b/c');
    expect(() => load({ DATABASE_URL: 'postgres://a@b/c', DATABASE_URL_FILE: file })).toThrow(
      'Invalid configuration: DATABASE_URL: set DATABASE_URL or DATABASE_URL_FILE, not both',
    );
    expect(() => load({ DATABASE_URL_FILE: join(dir, 'missing') })).toThrow(
      /^Invalid configuration: DATABASE_URL_FILE: cannot read .*missing/,
    );
  });

  it('should fall back to SQLite with seed rows outside production', () => {
    expect(load({ DATABASE_PATH: '/data/users.db' })).toEqual({
      url: undefined,
      path: '/data/users.db',
      seed: true,
    });
  });
});
