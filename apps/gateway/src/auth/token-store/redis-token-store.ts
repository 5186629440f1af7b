import { REVOKE_ALL_SCRIPT, tokenStoreKeys } from '@app/contracts';
import { Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { closeQuietly, RedisClient, RedisConnection } from '../../redis/redis-connection';
import { Revocation, RevocationListener, TokenStore } from './token-store';

/** Adds the token and indexes it under its user; the index expires with the user's last token. */
const REGISTER = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1`;

export interface RedisTokenStoreOptions {
  keyPrefix: string;
  /** How often this instance publishes a heartbeat to itself through Redis. */
  heartbeatMs?: number;
  /** A cache is coherent only while this instance's last heartbeat came back less than this long ago. */
  staleAfterMs?: number;
}

/**
 * The token store shared by every gateway instance:
 * - `<prefix>auth:jti:<jti>` = sub, with TTL = exp - now: the token is live while the key exists;
 * - `<prefix>auth:user:<sub>`: sorted set of the user's jtis by expiry, so logout-all needs no scan;
 * - `<prefix>auth:revocations`: pub/sub channel announcing each revocation to every instance.
 * The layout and the revoke-all script are in `@app/contracts` (`tokenStoreKeys`), since the user
 * service revokes a user's tokens itself when the account changes.
 *
 * Cache coherence: each instance publishes a timestamped heartbeat to its own channel every
 * `heartbeatMs`. Redis delivers messages to a subscriber in publish order, so once a heartbeat
 * sent at time S has come back, every revocation completed before S has been applied. The cache is
 * used only while the latest returned heartbeat was sent less than `staleAfterMs` ago, which bounds
 * how long a revoked token can still be served from any instance's cache (under 1 s). A lost
 * subscription or heartbeat stops the cache at once and sends every check to Redis; when heartbeats
 * come back the cache is dropped (revocations may have been missed meanwhile) and starts afresh.
 * Heartbeat times are read from this process's monotonic clock, so wall-clock jumps do not matter.
 */
export class RedisTokenStore extends TokenStore implements OnModuleInit, OnModuleDestroy {
  readonly kind = 'redis';
  private readonly logger = new Logger('TokenStore');
  private readonly prefix: string;
  private readonly channel: string;
  private readonly heartbeatChannel: string;
  private readonly heartbeatMs: number;
  private readonly staleAfterMs: number;
  private readonly listeners: RevocationListener[] = [];
  private subscriber?: RedisClient;
  private heartbeat?: NodeJS.Timeout;
  /** Send time (monotonic) of the newest own heartbeat that came back through the subscription. */
  private heartbeatSeenSentAt = -Infinity;
  private subscribed = false;

  constructor(
    private readonly redis: RedisConnection,
    private readonly options: RedisTokenStoreOptions,
  ) {
    super();
    this.prefix = `${options.keyPrefix}auth:`;
    this.channel = tokenStoreKeys(options.keyPrefix).channel;
    this.heartbeatChannel = `${this.prefix}heartbeat:${randomUUID()}`;
    this.heartbeatMs = options.heartbeatMs ?? 200;
    this.staleAfterMs = options.staleAfterMs ?? 700;
  }

  onModuleInit(): void {
    // Always on, whatever the token cache: a revocation must also close the token's WebSocket
    // tunnels on every replica, and a reload may turn tunnels on at any time.
    this.startRevocationEvents();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.heartbeat);
    this.subscribed = false;
    if (this.subscriber) await closeQuietly(this.subscriber);
  }

  register(jti: string, sub: string, ttlMs: number): Promise<void> {
    const now = Date.now();
    return this.redis.run('register', async (c) => {
      await c.eval(REGISTER, {
        keys: [this.jtiKey(jti), this.userKey(sub)],
        arguments: [sub, String(ttlMs), String(now + ttlMs), jti, String(now)],
      });
    });
  }

  isLive(jti: string, sub: string): Promise<boolean> {
    return this.redis.run('check', async (c) => (await c.get(this.jtiKey(jti))) === sub);
  }

  revoke(jti: string, sub: string): Promise<void> {
    const message = JSON.stringify({ sub, jti } satisfies Revocation);
    return this.redis.run('revoke', async (c) => {
      await c
        .multi()
        .del(this.jtiKey(jti))
        .zRem(this.userKey(sub), jti)
        .publish(this.channel, message)
        .exec();
    });
  }

  revokeAll(sub: string): Promise<number> {
    const message = JSON.stringify({ sub } satisfies Revocation);
    return this.redis.run('revoke-all', async (c) =>
      Number(
        await c.eval(REVOKE_ALL_SCRIPT, {
          keys: [this.userKey(sub)],
          arguments: [`${this.prefix}jti:`, this.channel, message],
        }),
      ),
    );
  }

  async ping(): Promise<void> {
    await this.redis.run('ping', (c) => c.ping());
  }

  cacheCoherent(): boolean {
    return this.subscribed && performance.now() - this.heartbeatSeenSentAt < this.staleAfterMs;
  }

  onRevocation(listener: RevocationListener): void {
    this.listeners.push(listener);
  }

  private jtiKey(jti: string): string {
    return `${this.prefix}jti:${jti}`;
  }

  private userKey(sub: string): string {
    return `${this.prefix}user:${sub}`;
  }

  private startRevocationEvents(): void {
    // Queues SUBSCRIBE until the first connection; after a reconnect the client re-subscribes itself.
    const subscriber = this.redis.duplicate('subscriber', { offlineQueue: true });
    this.subscriber = subscriber;
    const lost = () => {
      if (!this.subscribed) return;
      this.subscribed = false;
      this.heartbeatSeenSentAt = -Infinity;
      this.emit('all');
    };
    subscriber.on('error', lost);
    subscriber.on('end', lost);
    subscriber.on('ready', () => {
      this.subscribed = true;
    });
    subscriber.connect().catch(() => undefined);
    subscriber
      .subscribe([this.channel, this.heartbeatChannel], (message, channel) =>
        this.onMessage(message, channel),
      )
      .catch((err: unknown) => {
        this.logger.error({
          msg: 'revocation subscription failed; token cache stays off',
          error: String(err),
        });
      });
    this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
  }

  private beat(): void {
    if (!this.redis.ready) return;
    this.redis
      .run('heartbeat', (c) => c.publish(this.heartbeatChannel, String(performance.now())))
      .catch(() => undefined);
  }

  private onMessage(message: string, channel: string): void {
    if (channel === this.heartbeatChannel) {
      const sentAt = Number(message);
      const lapsed = performance.now() - this.heartbeatSeenSentAt >= this.staleAfterMs;
      if (sentAt > this.heartbeatSeenSentAt) this.heartbeatSeenSentAt = sentAt;
      // Coherence is back after a gap in which revocations may have been lost: start from empty.
      if (lapsed) this.emit('all');
      return;
    }
    let revocation: Revocation | 'all' = 'all';
    try {
      const parsed = JSON.parse(message) as Partial<Revocation>;
      if (typeof parsed.sub === 'string') {
        revocation =
          typeof parsed.jti === 'string'
            ? { sub: parsed.sub, jti: parsed.jti }
            : { sub: parsed.sub };
      }
    } catch {
      this.logger.warn({ msg: 'unreadable revocation message; dropping the token cache' });
    }
    this.emit(revocation);
  }

  private emit(revocation: Revocation | 'all'): void {
    for (const listener of this.listeners) listener(revocation);
  }
}
