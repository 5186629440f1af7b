import { httpErrorBody } from '@app/common';
import { isUniqueViolation } from '@app/database';
import {
  ConflictException,
  HttpException,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
  Optional,
  UnprocessableEntityException,
} from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomUUID } from 'node:crypto';
import { EntityManager, LessThanOrEqual, Repository } from 'typeorm';
import { IdempotencyKey, IdempotencyKeyStatus } from './idempotency-key.entity';
import { WriteLock } from './write-lock';

export interface IdempotencyOptions {
  /** How long a key is remembered; an older one is treated as never seen. */
  ttlMs: number;
  /** How long a claim may stay IN_PROGRESS before another request may take it over (its holder may have died). */
  lockTimeoutMs: number;
  /** How often keys past `ttlMs` are deleted (0: never); they read as absent either way. */
  purgeIntervalMs: number;
  /** Epoch ms, replaceable in tests. */
  now: () => number;
}

export const IDEMPOTENCY_OPTIONS = Symbol('IDEMPOTENCY_OPTIONS');

export const DEFAULT_IDEMPOTENCY_OPTIONS: IdempotencyOptions = {
  ttlMs: 24 * 60 * 60 * 1000,
  lockTimeoutMs: 30_000,
  purgeIntervalMs: 60 * 60 * 1000,
  now: () => Date.now(),
};

/** An answer as it went out the first time: replayed verbatim to every retry with the key. */
export interface StoredResponse {
  status: number;
  body: unknown;
}

export interface IdempotentResult {
  response: StoredResponse;
  /** True when this is a stored answer of an earlier request with the key. */
  replayed: boolean;
}

/** One request's use of a key. */
export interface IdempotencyScope {
  userId: number;
  key: string;
  /** `requestHash(...)` of the canonical request. */
  requestHash: string;
  /** Written into a stored error body, as the error filter would. */
  requestId: string;
}

/** Records the answer inside the transaction that writes the work's effects: both commit, or neither. */
export type Seal = (manager: EntityManager, response: StoredResponse) => Promise<void>;

/** What an existing row of the same (user, key) means for a new request. */
export type Decision =
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'mismatch' }
  | { kind: 'in-progress' }
  | { kind: 'take-over' }
  | { kind: 'expired' };

/** The rules in one place: expiry first, then the request must match, then the row's state. */
export function decide(
  existing: Pick<
    IdempotencyKey,
    'createdAt' | 'lockedAt' | 'requestHash' | 'status' | 'responseStatus' | 'responseBody'
  >,
  requestHash: string,
  now: number,
  options: Pick<IdempotencyOptions, 'ttlMs' | 'lockTimeoutMs'>,
): Decision {
  if (now - existing.createdAt >= options.ttlMs) return { kind: 'expired' };
  if (existing.requestHash !== requestHash) return { kind: 'mismatch' };
  if (existing.status === IdempotencyKeyStatus.Completed) {
    return {
      kind: 'replay',
      response: {
        status: existing.responseStatus ?? 200,
        body: existing.responseBody === null ? null : JSON.parse(existing.responseBody),
      },
    };
  }
  if (now - existing.lockedAt >= options.lockTimeoutMs) return { kind: 'take-over' };
  return { kind: 'in-progress' };
}

/** SHA-256 over the request's fields in a fixed order, so key order and spacing of the JSON do not matter. */
export function requestHash(fields: Record<string, string | number | boolean | null>): string {
  const canonical = JSON.stringify(
    Object.keys(fields)
      .sort()
      .map((k) => [k, fields[k]]),
  );
  return createHash('sha256').update(canonical).digest('hex');
}

/** A client mistake or a refusal that retrying the same request cannot change: stored and replayed. */
function isFinal(err: unknown): err is HttpException {
  return err instanceof HttpException && err.getStatus() >= 400 && err.getStatus() < 500;
}

/** The body the error filter sends for `err`, so first answer and replay are the same bytes. */
function errorResponse(err: HttpException, requestId: string): StoredResponse {
  const body = httpErrorBody(err, requestId);
  return { status: body.statusCode, body };
}

class ClaimLostException extends ConflictException {
  constructor() {
    super('the Idempotency-Key was taken over by a retry while this request ran');
  }
}

interface Claim {
  userId: number;
  key: string;
  token: string;
}

/** Rounds of "insert lost, but the row was gone when read" before giving up as contended. */
const MAX_CLAIM_ROUNDS = 5;

/**
 * `Idempotency-Key` handling, durable in the service's database: the first request with a key
 * claims it (unique insert of an IN_PROGRESS row), does its work and stores its answer in the same
 * transaction as the work's effects; a later request with the key gets that answer again, a
 * concurrent one 409, one with another body 422. Answers that are not final (5xx) release the key.
 */
@Injectable()
export class IdempotencyService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(IdempotencyService.name);
  private readonly options: IdempotencyOptions;
  private purgeTimer?: NodeJS.Timeout;

  constructor(
    @InjectRepository(IdempotencyKey) private readonly keys: Repository<IdempotencyKey>,
    private readonly writeLock: WriteLock,
    @Optional() @Inject(IDEMPOTENCY_OPTIONS) options?: Partial<IdempotencyOptions>,
  ) {
    this.options = { ...DEFAULT_IDEMPOTENCY_OPTIONS, ...options };
  }

  onApplicationBootstrap(): void {
    if (this.options.purgeIntervalMs <= 0) return;
    this.purgeTimer = setInterval(() => {
      this.purgeExpired().catch((err: unknown) =>
        this.logger.warn({ msg: 'idempotency key purge failed', err }),
      );
    }, this.options.purgeIntervalMs);
    this.purgeTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.purgeTimer);
  }

  /** Deletes keys older than the TTL; only bounds the table, since such keys read as absent anyway. */
  async purgeExpired(): Promise<number> {
    const cutoff = this.options.now() - this.options.ttlMs;
    const result = await this.writeLock.run(() =>
      this.keys.delete({ createdAt: LessThanOrEqual(cutoff) }),
    );
    return result.affected ?? 0;
  }

  /**
   * Runs `work` at most once per (user, key). `work` calls `seal` inside the transaction that
   * writes its effects; a 4xx it throws is stored as the answer, anything else releases the key
   * and propagates.
   * @throws ConflictException while another request holds the key.
   * @throws UnprocessableEntityException when the key was used with a different request.
   */
  async execute(
    scope: IdempotencyScope,
    work: (seal: Seal) => Promise<StoredResponse>,
  ): Promise<IdempotentResult> {
    const claimed = await this.claim(scope);
    if ('response' in claimed) return { response: claimed.response, replayed: true };
    const claim = claimed;
    let sealed = false;
    const seal: Seal = async (manager, response) => {
      await this.complete(manager, claim, response);
      sealed = true;
    };
    let response: StoredResponse;
    try {
      response = await work(seal);
    } catch (err) {
      if (err instanceof ClaimLostException) throw err;
      if (isFinal(err)) {
        const refusal = errorResponse(err, scope.requestId);
        await this.writeLock.run(() => this.complete(this.keys.manager, claim, refusal));
        return { response: refusal, replayed: false };
      }
      // A no-op when the work's transaction did commit the answer: only IN_PROGRESS rows go.
      await this.release(claim);
      throw err;
    }
    if (!sealed) await this.writeLock.run(() => this.complete(this.keys.manager, claim, response));
    return { response, replayed: false };
  }

  /** Claims the key for this request, or says what an earlier request with it decided. */
  private async claim(scope: IdempotencyScope): Promise<Claim | { response: StoredResponse }> {
    const { userId, key } = scope;
    for (let round = 0; round < MAX_CLAIM_ROUNDS; round++) {
      const now = this.options.now();
      const token = randomUUID();
      if (await this.tryInsert(scope, token, now)) return { userId, key, token };
      const existing = await this.writeLock.run(() => this.keys.findOneBy({ userId, key }));
      if (!existing) continue;
      const decision = decide(existing, scope.requestHash, now, this.options);
      switch (decision.kind) {
        case 'replay':
          return { response: decision.response };
        case 'mismatch':
          throw new UnprocessableEntityException(
            'Idempotency-Key was already used with a different request',
          );
        case 'in-progress':
          throw new ConflictException('a request with this Idempotency-Key is still in progress');
        case 'take-over':
          if (await this.takeOver(existing, token, now)) return { userId, key, token };
          continue;
        case 'expired':
          await this.writeLock.run(() =>
            this.keys.delete({ id: existing.id, createdAt: existing.createdAt }),
          );
          continue;
      }
    }
    throw new ConflictException('a request with this Idempotency-Key is still in progress');
  }

  /** Inserts the IN_PROGRESS row; false when the unique (user, key) constraint says it exists. */
  private async tryInsert(scope: IdempotencyScope, token: string, now: number): Promise<boolean> {
    try {
      await this.writeLock.run(() =>
        this.keys.insert({
          userId: scope.userId,
          key: scope.key,
          requestHash: scope.requestHash,
          status: IdempotencyKeyStatus.InProgress,
          lockToken: token,
          lockedAt: now,
          createdAt: now,
          responseStatus: null,
          responseBody: null,
        }),
      );
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  /** Compare-and-set on the stale holder's token, so of two requests taking over only one wins. */
  private async takeOver(existing: IdempotencyKey, token: string, now: number): Promise<boolean> {
    const result = await this.writeLock.run(() =>
      this.keys.update(
        {
          id: existing.id,
          status: IdempotencyKeyStatus.InProgress,
          lockToken: existing.lockToken!,
        },
        { lockToken: token, lockedAt: now },
      ),
    );
    return result.affected === 1;
  }

  private async complete(
    manager: EntityManager,
    claim: Claim,
    response: StoredResponse,
  ): Promise<void> {
    const result = await manager.update(
      IdempotencyKey,
      {
        userId: claim.userId,
        key: claim.key,
        lockToken: claim.token,
        status: IdempotencyKeyStatus.InProgress,
      },
      {
        status: IdempotencyKeyStatus.Completed,
        lockToken: null,
        responseStatus: response.status,
        responseBody: JSON.stringify(response.body),
      },
    );
    if (result.affected !== 1) throw new ClaimLostException();
  }

  /** Frees the key after an answer that was not final, so the client's retry can run. */
  private async release(claim: Claim): Promise<void> {
    await this.writeLock.run(() =>
      this.keys.delete({
        userId: claim.userId,
        key: claim.key,
        lockToken: claim.token,
        status: IdempotencyKeyStatus.InProgress,
      }),
    );
  }
}
