import { RetryLaterException } from '@app/common';
import { REVOKE_ALL_SCRIPT, tokenStoreKeys } from '@app/contracts';
import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { createClient, RedisClientType } from '@redis/client';
import { sessionsConfig } from './sessions.config';

/** Deadline of one revocation in Redis. */
const REVOKE_TIMEOUT_MS = 1_000;
/** Retries of the revocation repeated after the change committed. */
const AFTER_COMMIT_RETRIES = 5;

/**
 * Signs a user out on every gateway instance: deletes all their tokens from the gateway's token
 * store and announces it on the revocation channel, so no instance serves them from its cache.
 * Used by the account changes that must end sessions: deletion, a new password, a role removed.
 */
@Injectable()
export class SessionRevoker implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(SessionRevoker.name);
  private readonly client?: RedisClientType;
  private readonly keys: ReturnType<typeof tokenStoreKeys>;

  constructor(@Inject(sessionsConfig.KEY) config: ConfigType<typeof sessionsConfig>) {
    this.keys = tokenStoreKeys(config.keyPrefix);
    if (config.redisUrl) {
      this.client = createClient({
        url: config.redisUrl,
        disableOfflineQueue: true,
        socket: { connectTimeout: REVOKE_TIMEOUT_MS, reconnectStrategy: () => 500 },
      });
      this.client.on('error', () => undefined);
    }
  }

  onModuleInit(): void {
    if (!this.client) {
      this.logger.warn({
        msg: 'REDIS_URL unset: account changes cannot revoke tokens (the gateway keeps them in its own memory)',
      });
      return;
    }
    this.client.connect().catch(() => undefined);
  }

  async onModuleDestroy(): Promise<void> {
    if (!this.client?.isOpen) return;
    if (this.client.isReady) await this.client.close().catch(() => this.client?.destroy());
    else this.client.destroy();
  }

  /**
   * Revokes every token of `userId` before the change commits; a failure refuses the change with
   * 503 (logged at error), so an account never changes while its old tokens stay live.
   */
  async revokeOrRefuse(userId: number, reason: string): Promise<void> {
    try {
      await this.revoke(userId);
    } catch (err) {
      this.logger.error({ msg: 'cannot revoke tokens; change refused', userId, reason, err });
      throw new RetryLaterException(
        'cannot sign the account out of its sessions now; nothing was changed',
        5,
      );
    }
  }

  /**
   * Revokes again once the change has committed, for a login that was checked against the old
   * state just before; retried with a growing delay and logged at error while it fails.
   */
  revokeAfterCommit(userId: number, reason: string): void {
    const attempt = (n: number): void => {
      this.revoke(userId).catch((err: unknown) => {
        this.logger.error({
          msg: 'token revocation after an account change failed',
          userId,
          reason,
          attempt: n,
          err,
        });
        if (n < AFTER_COMMIT_RETRIES) setTimeout(() => attempt(n + 1), 200 * 2 ** n).unref();
      });
    };
    attempt(1);
  }

  private async revoke(userId: number): Promise<void> {
    if (!this.client) return;
    if (!this.client.isReady) throw new Error('redis not connected');
    const sub = String(userId);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.client.eval(REVOKE_ALL_SCRIPT, {
          keys: [this.keys.userKey(sub)],
          arguments: [this.keys.jtiPrefix, this.keys.channel, JSON.stringify({ sub })],
        }),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('redis timed out')), REVOKE_TIMEOUT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
