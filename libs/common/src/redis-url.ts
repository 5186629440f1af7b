/**
 * `REDIS_URL` with `REDIS_PASSWORD` as its password, so the password can come from a Docker secret
 * (`REDIS_PASSWORD_FILE`); a password given twice, or without a URL, is refused.
 */
export function redisUrlWithPassword(
  redisUrl: string | undefined,
  password: string | undefined,
): string | undefined {
  if (password === undefined) return redisUrl;
  if (redisUrl === undefined) {
    throw new Error('Invalid configuration: REDIS_PASSWORD: set only together with REDIS_URL');
  }
  const url = new URL(redisUrl);
  if (url.password !== '') {
    throw new Error(
      'Invalid configuration: REDIS_PASSWORD: REDIS_URL already carries a password; set it in one place',
    );
  }
  // The client decodes the URL's password; encoding `%` too keeps any password intact.
  url.password = encodeURIComponent(password);
  return url.toString();
}
