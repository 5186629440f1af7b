import { RetryLaterException } from '@app/common';
import { availableParallelism } from 'node:os';

/** Logins (checking a password) go ahead of writes (hashing a new one): see `HashingQueue`. */
export type HashingLane = 'verify' | 'write';

export interface HashingQueueLimits {
  /** Hashes running at once (each one occupies a libuv thread and a core for ~50 ms). */
  concurrency: number;
  /** Hashes allowed to wait per lane; one more is refused with 503 + `Retry-After`. */
  waiting: Record<HashingLane, number>;
  /** The `Retry-After` sent with a refusal. */
  retryAfterSeconds: number;
}

/**
 * With one hash per core, a queue of 32 sign-ups waits under a second; logins wait only for the
 * hashes already running, because their lane is served first.
 */
function defaultHashingLimits(): HashingQueueLimits {
  const cores = availableParallelism();
  return {
    concurrency: cores,
    waiting: { verify: 64 * cores, write: 16 * cores },
    retryAfterSeconds: 1,
  };
}

interface Waiter {
  start: () => void;
}

/**
 * Bounds the scrypt work of the service. scrypt already runs on libuv's thread pool, but that pool
 * is one FIFO queue shared by every request: a burst of anonymous sign-ups queued hundreds of
 * hashes ahead of every login. Here each lane has its own bounded queue, logins are started
 * before sign-ups and password changes, and a full lane is refused at once rather than left to
 * time out at the gateway.
 */
export class HashingQueue {
  private running = 0;
  private readonly queues: Record<HashingLane, Waiter[]> = { verify: [], write: [] };

  constructor(private readonly limits: HashingQueueLimits = defaultHashingLimits()) {}

  async run<T>(lane: HashingLane, work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limits.concurrency) await this.wait(lane);
    else this.running++;
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private wait(lane: HashingLane): Promise<void> {
    const queue = this.queues[lane];
    if (queue.length >= this.limits.waiting[lane]) {
      throw new RetryLaterException(
        'password hashing is busy; retry shortly',
        this.limits.retryAfterSeconds,
      );
    }
    return new Promise((resolve) => queue.push({ start: resolve }));
  }

  /** Hands the freed slot to the next waiter (logins first) or gives it back. */
  private release(): void {
    const next = this.queues.verify.shift() ?? this.queues.write.shift();
    if (next) next.start();
    else this.running--;
  }
}
