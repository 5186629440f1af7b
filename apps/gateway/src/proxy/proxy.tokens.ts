/** Source of randomness for retry backoff jitter (`() => number` in [0, 1)); replaceable in tests. */
export const BACKOFF_RANDOM = Symbol('BACKOFF_RANDOM');
