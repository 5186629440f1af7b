import {
  BackoffOptions,
  fullJitterBackoffMs,
  isIdempotentMethod,
  isRetryableStatus,
} from '@app/common';
import type { RetryConfig } from '../routing/gateway-config';

/** Made safe to repeat by an `Idempotency-Key`, where the service honours it. */
const KEYED = new Set(['POST', 'PATCH']);

/**
 * When a failed attempt may be sent again, and how long to wait first.
 * A request whose bytes never left the gateway may always go to another target. Once bytes may
 * have reached an upstream, only a replay-safe request is sent again.
 */
export class RetryPolicy {
  private readonly backoff: BackoffOptions;

  constructor(
    private readonly config: RetryConfig,
    /** The service honours `Idempotency-Key` (`idempotencyKeys: true`): a keyed POST/PATCH may go again. */
    private readonly honoursKeys: boolean,
    private readonly random: () => number = Math.random,
  ) {
    this.backoff = { baseMs: config.backoffBaseMs, maxMs: config.backoffMaxMs };
  }

  get maxAttempts(): number {
    return this.config.attempts;
  }

  /**
   * Safe to send again after a timeout, a reset or a 502/503/504 from an upstream. A key makes a
   * POST/PATCH safe only where the service is known to honour it: elsewhere the second replica
   * would act on it a second time.
   */
  isReplaySafe(method: string, hasIdempotencyKey: boolean): boolean {
    return (
      isIdempotentMethod(method) || (hasIdempotencyKey && this.honoursKeys && KEYED.has(method))
    );
  }

  /** Whether another attempt may follow one whose bytes may (or may not) have reached the upstream. */
  shouldRetry(attemptsMade: number, bytesMayHaveBeenSent: boolean, replaySafe: boolean): boolean {
    return attemptsMade < this.config.attempts && (!bytesMayHaveBeenSent || replaySafe);
  }

  /**
   * After an attempt that failed (connect error, reset, timeout, or a retried 502/503/504): whether
   * another follows. Never once the client's body stream is spent, since nothing is left to send.
   */
  retriesFailure(
    attemptsMade: number,
    bytesMayHaveBeenSent: boolean,
    replaySafe: boolean,
    bodySpent: boolean,
  ): boolean {
    return !bodySpent && this.shouldRetry(attemptsMade, bytesMayHaveBeenSent, replaySafe);
  }

  /**
   * After an upstream answered `status`: whether to read and drop that answer and try another
   * target. Only a 502/503/504 to a replay-safe request, and never on the last attempt, whose
   * answer goes to the client as it is (a last-attempt 503 stays a 503).
   */
  retriesStatus(status: number, attemptsMade: number, replaySafe: boolean): boolean {
    return isRetryableStatus(status) && this.shouldRetry(attemptsMade, true, replaySafe);
  }

  /** Full jitter: uniform in [0, min(max, base * 2^(n-1))] before attempt n + 1. */
  backoffMs(attemptsMade: number): number {
    return fullJitterBackoffMs(this.backoff, attemptsMade, this.random);
  }
}
