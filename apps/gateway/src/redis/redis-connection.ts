import { Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { createClient, RedisClientType } from '@redis/client';

export type RedisClient = RedisClientType;

/** How long start-up waits for a first connection; after that the gateway serves and keeps retrying. */
const CONNECT_WAIT_MS = 1_000;

/** Redis could not answer (down or slow): protected routes fail closed with 503. */
export class RedisUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisUnavailableError';
  }
}

/**
 * The gateway's one connection to Redis, shared by the token store, login limits, rate limits and
 * the response cache; each keeps its keys under `keyPrefix`. Commands fail at once while disconnected (no offline
 * queue) and after `timeoutMs` when Redis does not answer, so a protected request never waits on a
 * dead store: it gets 503 and public routes are unaffected.
 */
export class RedisConnection implements OnModuleInit, OnModuleDestroy {
  readonly client: RedisClient;
  private readonly logger = new Logger('Redis');
  private closed = false;

  constructor(
    readonly url: string,
    readonly timeoutMs: number,
    readonly keyPrefix: string,
  ) {
    this.client = this.create('main', false);
  }

  /** A second connection with the same settings (a subscriber cannot send ordinary commands). */
  duplicate(role: string, options: { offlineQueue?: boolean } = {}): RedisClient {
    return this.create(role, options.offlineQueue ?? false);
  }

  /** Starts connecting and waits a bounded time; a Redis that is down does not stop the gateway. */
  async onModuleInit(): Promise<void> {
    const connecting = this.client.connect().catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      connecting,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, CONNECT_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (!this.client.isReady) {
      this.logger.warn({
        msg: 'redis not reachable at start; protected routes answer 503 until it is',
      });
    }
  }

  get ready(): boolean {
    return this.client.isReady;
  }

  /** Runs `command` with the deadline, turning every failure into `RedisUnavailableError`. */
  run<T>(what: string, command: (client: RedisClient) => Promise<T>): Promise<T> {
    if (!this.client.isReady) {
      return Promise.reject(new RedisUnavailableError(`redis not connected (${what})`));
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new RedisUnavailableError(`redis timed out after ${this.timeoutMs} ms (${what})`)),
        this.timeoutMs,
      );
      command(this.client).then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(
            new RedisUnavailableError(`redis failed (${what}): ${String(err)}`, {
              cause: err,
            }),
          );
        },
      );
    });
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    await closeQuietly(this.client);
  }

  private create(role: string, offlineQueue: boolean): RedisClient {
    const client: RedisClient = createClient({
      url: this.url,
      disableOfflineQueue: !offlineQueue,
      socket: {
        connectTimeout: Math.max(this.timeoutMs, 1_000),
        // Exponential with jitter, capped: replicas do not reconnect in lockstep after an outage.
        reconnectStrategy: (retries: number) =>
          Math.min(50 * 2 ** Math.min(retries, 6), 2_000) * (0.5 + Math.random() / 2),
      },
    });
    let up = false;
    client.on('ready', () => {
      up = true;
      this.logger.log({ msg: 'redis connected', role });
    });
    client.on('error', (err: Error) => {
      // One line per outage rather than one per reconnect attempt.
      if (up && !this.closed) {
        this.logger.warn({ msg: 'redis connection lost', role, error: err.message });
      }
      up = false;
    });
    return client;
  }
}

/** Closes a client, giving up on the graceful path if Redis does not answer. */
export async function closeQuietly(client: RedisClient): Promise<void> {
  if (!client.isOpen) return;
  try {
    if (client.isReady) await client.close();
    else client.destroy();
  } catch {
    client.destroy();
  }
}
