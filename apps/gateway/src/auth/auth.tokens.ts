/**
 * How many proxies in front of the gateway append to `X-Forwarded-For` (a number), so that login
 * attempts are counted by the same client address as rate limits (see `clientAddress`).
 */
export const TRUSTED_PROXY_HOPS = Symbol('TRUSTED_PROXY_HOPS');
