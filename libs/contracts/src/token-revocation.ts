/**
 * The gateway's token store layout in Redis, shared with the services that must sign a user out
 * (user-service after a deletion, a password change or a role removed):
 * - `<prefix>auth:jti:<jti>` = sub: the token is live while the key exists;
 * - `<prefix>auth:user:<sub>`: sorted set of the user's jtis;
 * - `<prefix>auth:revocations`: channel on which every gateway instance drops cached tokens.
 */
export function tokenStoreKeys(keyPrefix: string) {
  const prefix = `${keyPrefix}auth:`;
  return {
    jtiPrefix: `${prefix}jti:`,
    userKey: (sub: string) => `${prefix}user:${sub}`,
    channel: `${prefix}revocations`,
  };
}

/** Default `REDIS_KEY_PREFIX` of the gateway. */
export const DEFAULT_REDIS_KEY_PREFIX = 'gateway:';

/**
 * Deletes every token in the user's index and announces it, atomically with a login that adds to
 * it. KEYS[1] user index; ARGV[1] jti key prefix, ARGV[2] channel, ARGV[3] message `{"sub":…}`.
 */
export const REVOKE_ALL_SCRIPT = `
local jtis = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, jti in ipairs(jtis) do
  redis.call('DEL', ARGV[1] .. jti)
end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return #jtis`;
