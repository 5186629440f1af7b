/** The proxy's random source (`() => number` in [0, 1)): backoff jitter and least-request draws; replaceable in tests. */
export const PROXY_RANDOM = Symbol('PROXY_RANDOM');
