import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisConfig, redisConfig } from './redis.config';

describe('redisConfig', () => {
  const saved = { ...process.env };
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'redis-config-'));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  afterEach(() => {
    process.env = { ...saved };
  });

  /** The config read from exactly `env` (plus unrelated variables). */
  const load = (env: Record<string, string>): RedisConfig => {
    for (const key of Object.keys(process.env)) {
      if (/^(AUTH_REDIS|REDIS_)/.test(key)) delete process.env[key];
    }
    Object.assign(process.env, env);
    return redisConfig();
  };

  it('should apply the documented defaults: no Redis, prefix gateway:, 500 ms', () => {
    expect(load({})).toEqual({ url: undefined, keyPrefix: 'gateway:', timeoutMs: 500 });
  });

  it('should read every variable', () => {
    expect(
      load({
        REDIS_URL: 'redis://127.0.0.1:6379',
        REDIS_KEY_PREFIX: 'x:',
        AUTH_REDIS_TIMEOUT_MS: '200',
      }),
    ).toEqual({ url: 'redis://127.0.0.1:6379', keyPrefix: 'x:', timeoutMs: 200 });
  });

  it('should refuse a URL of another scheme, naming the variable', () => {
    expect(() => load({ REDIS_URL: 'http://127.0.0.1:6379' })).toThrow(
      'Invalid configuration: REDIS_URL="http://127.0.0.1:6379": must be a redis:// or rediss:// URL',
    );
  });

  it('should put the Redis password from REDIS_PASSWORD_FILE into the Redis URL', () => {
    const file = join(dir, 'redis-password');
    // Characters that mean something in a URL must survive the round trip.
    writeFileSync(file, 'p@ss:w/rd%41 #\n');
    const redis = load({ REDIS_URL: 'redis://redis:6379/0', REDIS_PASSWORD_FILE: file });
    expect(redis.url).toBe('redis://:p%40ss%3Aw%2Frd%2541%20%23@redis:6379/0');
    expect(decodeURIComponent(new URL(redis.url!).password)).toBe('p@ss:w/rd%41 #');
    expect(load({ REDIS_URL: 'redis://r:1', REDIS_PASSWORD: 'pw' }).url).toBe('redis://:pw@r:1');
  });

  it('should refuse a Redis password given twice or without REDIS_URL', () => {
    const file = join(dir, 'redis-password-2');
    writeFileSync(file, 'pw\n');
    expect(() =>
      load({ REDIS_URL: 'redis://r:1', REDIS_PASSWORD: 'a', REDIS_PASSWORD_FILE: file }),
    ).toThrow(
      'Invalid configuration: REDIS_PASSWORD: set REDIS_PASSWORD or REDIS_PASSWORD_FILE, not both',
    );
    expect(() => load({ REDIS_URL: 'redis://:a@r:1', REDIS_PASSWORD_FILE: file })).toThrow(
      /^Invalid configuration: REDIS_PASSWORD: REDIS_URL already carries a password/,
    );
    expect(() => load({ REDIS_PASSWORD_FILE: file })).toThrow(
      'Invalid configuration: REDIS_PASSWORD: set only together with REDIS_URL',
    );
    expect(() =>
      load({ REDIS_URL: 'redis://r:1', REDIS_PASSWORD_FILE: join(dir, 'missing') }),
    ).toThrow(/^Invalid configuration: REDIS_PASSWORD_FILE: cannot read .*missing/);
  });
});
