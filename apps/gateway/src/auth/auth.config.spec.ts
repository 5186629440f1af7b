import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthConfig, authConfig } from './auth.config';

describe('authConfig', () => {
  const saved = { ...process.env };
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'auth-config-'));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  afterEach(() => {
    process.env = { ...saved };
  });

  /** The config read from exactly `env` (plus unrelated variables). */
  const load = (env: Record<string, string>): AuthConfig => {
    for (const key of Object.keys(process.env)) {
      if (/^(JWT_|AUTH_|REDIS_)/.test(key) || key === 'NODE_ENV') delete process.env[key];
    }
    Object.assign(process.env, env);
    return authConfig();
  };

  it('should apply the documented defaults', () => {
    const config = load({});
    expect(config).toMatchObject({
      ttlSeconds: 900,
      issuer: 'api-gateway',
      audience: 'api',
      clockToleranceSeconds: 5,
      userServiceUrls: ['http://127.0.0.1:3002', 'http://127.0.0.1:3004'],
      login: { perIp: 10, perEmail: 5, windowSeconds: 60 },
      tokenCache: { enabled: true, maxEntries: 10_000 },
    });
  });

  it('should make a random 32-byte secret outside production and say it did', () => {
    const a = load({ NODE_ENV: 'development' }).keys;
    const b = load({ NODE_ENV: 'development' }).keys;
    expect(a).toMatchObject({ algorithm: 'HS256', generated: true });
    if (a.algorithm !== 'HS256' || b.algorithm !== 'HS256') throw new Error('expected HS256');
    expect(a.secret).toHaveLength(32);
    expect(a.secret.equals(b.secret)).toBe(false);
  });

  it('should refuse to start in production without a secret, naming the variable', () => {
    expect(() => load({ NODE_ENV: 'production' })).toThrow(
      /^Invalid configuration: JWT_SECRET: required in production/,
    );
  });

  it('should refuse a production secret shorter than 32 bytes, naming the variable', () => {
    expect(() => load({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(31) })).toThrow(
      'Invalid configuration: JWT_SECRET: must be at least 32 bytes in production (got 31)',
    );
    const file = join(dir, 'short');
    writeFileSync(file, 'short\n');
    expect(() => load({ NODE_ENV: 'production', JWT_SECRET_FILE: file })).toThrow(
      /^Invalid configuration: JWT_SECRET_FILE: must be at least 32 bytes/,
    );
  });

  it('should count bytes, not characters, of the secret', () => {
    // 16 two-byte characters are 32 bytes.
    const config = load({ NODE_ENV: 'production', JWT_SECRET: 'é'.repeat(16) });
    expect(config.keys).toMatchObject({ algorithm: 'HS256', generated: false });
  });

  it('should read JWT_SECRET_FILE without its trailing newline', () => {
    const file = join(dir, 'secret');
    writeFileSync(file, `${'s'.repeat(40)}\n`);
    const keys = load({ NODE_ENV: 'production', JWT_SECRET_FILE: file }).keys;
    if (keys.algorithm !== 'HS256') throw new Error('expected HS256');
    expect(keys.secret.toString()).toBe('s'.repeat(40));
  });

  it('should refuse both JWT_SECRET and JWT_SECRET_FILE, and a missing file', () => {
    expect(() => load({ JWT_SECRET: 'a', JWT_SECRET_FILE: '/nope' })).toThrow(
      /JWT_SECRET: set JWT_SECRET or JWT_SECRET_FILE, not both/,
    );
    expect(() => load({ JWT_SECRET_FILE: join(dir, 'missing') })).toThrow(
      /^Invalid configuration: JWT_SECRET_FILE: cannot read/,
    );
  });

  it('should require both key files for RS256', () => {
    expect(() => load({ JWT_ALGORITHM: 'RS256' })).toThrow(
      'Invalid configuration: JWT_PRIVATE_KEY_FILE: required when JWT_ALGORITHM is RS256',
    );
  });

  it.each([
    [
      { JWT_ALGORITHM: 'HS512' },
      'Invalid configuration: JWT_ALGORITHM="HS512": must be HS256 or RS256',
    ],
    [{ JWT_TTL_SECONDS: 'soon' }, /JWT_TTL_SECONDS/],
    [{ JWT_CLOCK_TOLERANCE_SECONDS: '-1' }, /JWT_CLOCK_TOLERANCE_SECONDS/],
    [
      { AUTH_USER_SERVICE_URLS: 'localhost:3002' },
      'Invalid configuration: AUTH_USER_SERVICE_URLS="localhost:3002": must be a comma-separated list of http(s) URLs',
    ],
    [{ AUTH_LOGIN_LIMIT_PER_EMAIL: '0' }, /AUTH_LOGIN_LIMIT_PER_EMAIL/],
    [
      { AUTH_TOKEN_CACHE: 'yes' },
      'Invalid configuration: AUTH_TOKEN_CACHE="yes": must be true or false',
    ],
  ])('should refuse %j naming the variable', (env, message) => {
    expect(() => load(env)).toThrow(message);
  });

  it('should read overrides and trim trailing slashes of user-service URLs', () => {
    const config = load({
      JWT_TTL_SECONDS: '60',
      AUTH_USER_SERVICE_URLS: 'http://a:1/,http://b:2',
      AUTH_TOKEN_CACHE: 'false',
    });
    expect(config.ttlSeconds).toBe(60);
    expect(config.userServiceUrls).toEqual(['http://a:1', 'http://b:2']);
    expect(config.tokenCache.enabled).toBe(false);
  });
});
