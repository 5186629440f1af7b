import 'reflect-metadata';
import { validateEnv } from './env-validation';
import { IsHttpUrlList, parseUrlList } from './url-list';

class Env {
  @IsHttpUrlList()
  PEER_URLS: string = 'http://127.0.0.1:3001';
}

describe('URL lists', () => {
  it('should split, trim and drop blanks and trailing slashes', () => {
    expect(parseUrlList(' http://a:1/ ,, https://b/x// ')).toEqual(['http://a:1', 'https://b/x']);
  });

  it('should accept a list of http(s) URLs, and the default when unset', () => {
    expect(validateEnv(Env, { PEER_URLS: 'http://a:1, https://b' }).PEER_URLS).toBe(
      'http://a:1, https://b',
    );
    expect(validateEnv(Env, {}).PEER_URLS).toBe('http://127.0.0.1:3001');
  });

  it.each([',', 'localhost:3002', 'ftp://a', 'http://a,not a url', 'http://a?x=1', 'http://a#b'])(
    'should refuse %p naming the variable',
    (value) => {
      expect(() => validateEnv(Env, { PEER_URLS: value })).toThrow(
        `Invalid configuration: PEER_URLS=${JSON.stringify(value)}: must be a comma-separated list of http(s) URLs`,
      );
    },
  );
});
