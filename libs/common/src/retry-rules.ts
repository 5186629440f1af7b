/**
 * The rules every caller of replicated services shares (the gateway's proxy and the services' own
 * calls to their peers): which requests may be repeated, which answers another replica may fix, and
 * how long to wait between tries.
 */

/** Methods whose repetition has the same effect as one request (RFC 9110 9.2.2). */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export function isIdempotentMethod(method: string): boolean {
  return IDEMPOTENT_METHODS.has(method);
}

/** 502/503/504: the statuses that may mean the replica cannot serve now, so another one may. */
export function isRetryableStatus(status: number): boolean {
  return status === 502 || status === 503 || status === 504;
}

/** Full-jitter exponential backoff between tries. */
export interface BackoffOptions {
  /** Delay bound before the second try; doubles for each further try. */
  baseMs: number;
  maxMs: number;
}

/** A uniform delay in [0, min(max, base * 2^(n-1))) before try n + 1. */
export function fullJitterBackoffMs(
  backoff: BackoffOptions,
  triesMade: number,
  random: () => number = Math.random,
): number {
  const bound = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(triesMade - 1, 30));
  return Math.floor(random() * bound);
}
