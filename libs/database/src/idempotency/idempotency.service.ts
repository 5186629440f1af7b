import { httpErrorBody } from '@app/common';
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
import { EntityManager, In, LessThanOrEqual, Repository } from 'typeorm';
import { isUniqueViolation } from '../unique-violation';
import { WriteLock } from '../write-lock';
import type { WriteRequest } from './idempotent-write.decorator';
import { IdempotencyRecord, IdempotencyStatus } from './idempotency-record.entity';
import {
  currentProcess,
  formatOwner,
  ownerGone,
  parseOwner,
  ProcessIdentity,
} from './process-identity';

export interface IdempotencyOptions {
  /** How long a key is remembered; an older one is treated as never seen. */
  ttlMs: number;
  /** How long a claim holds without renewal; its holder renews it every `heartbeatMs` while it runs. */
  leaseMs: number;
  /** How often this process renews the leases of the claims it holds (0: never, for tests). */
  heartbeatMs: number;
  /** How often keys past `ttlMs` are deleted (0: never); they read as absent either way. */
  purgeIntervalMs: number;
  /** Epoch ms, replaceable in tests. */
  now: () => number;
  /** This process as a claim owner, replaceable in tests. */
  self: ProcessIdentity;
  /** Whether a pid runs on this host, replaceable in tests. */
  pidAlive?: (pid: number) => boolean;
}

export const IDEMPOTENCY_OPTIONS = Symbol('IDEMPOTENCY_OPTIONS');

const DEFAULT_IDEMPOTENCY_OPTIONS: IdempotencyOptions = {
  ttlMs: 24 * 60 * 60 * 1000,
  leaseMs: 5_000,
  heartbeatMs: 1_000,
  purgeIntervalMs: 60 * 60 * 1000,
  now: () => Date.now(),
  self: currentProcess(),
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
  /** Whose key it is: `user:<id>` for a signed-in caller; keys of two scopes never meet. */
  scope: string;
  key: string;
  /** `requestHash(...)` of the canonical request. */
  requestHash: string;
  /** Written into a stored error body, as the error filter would. */
  requestId: string;
}

/** Records the answer inside the transaction that writes the work's effects: both commit, or neither. */
export type Seal = (manager: EntityManager, response: StoredResponse) => Promise<void>;

/** `Seal` with the status already chosen: the work passes its manager and the body it answers. */
export type SealBody = (manager: EntityManager, body: unknown) => Promise<void>;

/** For a request without a key: the work runs as usual and nothing is recorded. */
export const NO_SEAL_BODY: SealBody = () => Promise.resolve();

/** What an existing row of the same (scope, key) means for a new request. */
export type Decision =
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'mismatch' }
  | { kind: 'in-progress' }
  | { kind: 'take-over' }
  | { kind: 'expired' };

/**
 * The rules in one place: expiry first, then the request must match, then the row's state. A claim
 * in progress is taken over once its lease has run out, or at once when its holder is known dead.
 */
export function decide(
  existing: Pick<
    IdempotencyRecord,
    | 'createdAt'
    | 'leaseUntil'
    | 'lockOwner'
    | 'requestHash'
    | 'status'
    | 'responseStatus'
    | 'responseBody'
  >,
  requestHash: string,
  now: number,
  options: Pick<IdempotencyOptions, 'ttlMs' | 'self' | 'pidAlive'>,
): Decision {
  if (now - existing.createdAt >= options.ttlMs) return { kind: 'expired' };
  if (existing.requestHash !== requestHash) return { kind: 'mismatch' };
  if (existing.status === IdempotencyStatus.Completed) {
    return {
      kind: 'replay',
      response: {
        status: existing.responseStatus ?? 200,
        body: existing.responseBody === null ? null : JSON.parse(existing.responseBody),
      },
    };
  }
  if (now >= existing.leaseUntil) return { kind: 'take-over' };
  if (ownerGone(parseOwner(existing.lockOwner), options.self, options.pidAlive)) {
    return { kind: 'take-over' };
  }
  return { kind: 'in-progress' };
}

export type Fingerprint = Record<string, string | number | boolean | null>;

/** SHA-256 over the request's fields in a fixed order, so key order and spacing of the JSON do not matter. */
export function requestHash(fields: Fingerprint): string {
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
  scope: string;
  key: string;
  token: string;
}

/** Rounds of "insert lost, but the row was gone when read" before giving up as contended. */
const MAX_CLAIM_ROUNDS = 5;

/**
 * `Idempotency-Key` handling, durable in the service's database, shared by every service: the first
 * request with a key claims it (unique insert of an IN_PROGRESS row), does its work and stores its
 * answer in the same transaction as the work's effects; a later request with the key gets that
 * answer again, a concurrent one 409, one with another body 422. Answers that are not final (5xx)
 * release the key. A claim is leased for `leaseMs` (5 s) and renewed every `heartbeatMs` (1 s) by
 * the process holding it, so the claim of a process that died is free 5 s later at most, and at
 * once for a process on the same host (its pid is gone, or was reused by a new boot).
 */
@Injectable()
export class IdempotencyService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(IdempotencyService.name);
  private readonly options: IdempotencyOptions;
  private readonly owner: string;
  /** Claims this process holds, by token: the heartbeat renews these. */
  private readonly held = new Set<string>();
  private purgeTimer?: NodeJS.Timeout;
  private heartbeatTimer?: NodeJS.Timeout;

  constructor(
    @InjectRepository(IdempotencyRecord) private readonly records: Repository<IdempotencyRecord>,
    private readonly writeLock: WriteLock,
    @Optional() @Inject(IDEMPOTENCY_OPTIONS) options?: Partial<IdempotencyOptions>,
  ) {
    this.options = { ...DEFAULT_IDEMPOTENCY_OPTIONS, ...options };
    this.owner = formatOwner(this.options.self);
  }

  onApplicationBootstrap(): void {
    if (this.options.purgeIntervalMs > 0) {
      this.purgeTimer = setInterval(() => {
        this.purgeExpired().catch((err: unknown) =>
          this.logger.warn({ msg: 'idempotency key purge failed', err }),
        );
      }, this.options.purgeIntervalMs);
      this.purgeTimer.unref();
    }
    if (this.options.heartbeatMs > 0) {
      this.heartbeatTimer = setInterval(() => {
        this.renewLeases().catch((err: unknown) =>
          this.logger.warn({ msg: 'idempotency lease renewal failed', err }),
        );
      }, this.options.heartbeatMs);
      this.heartbeatTimer.unref();
    }
  }

  onModuleDestroy(): void {
    clearInterval(this.purgeTimer);
    clearInterval(this.heartbeatTimer);
  }

  /** Deletes keys older than the TTL; only bounds the table, since such keys read as absent anyway. */
  async purgeExpired(): Promise<number> {
    const cutoff = this.options.now() - this.options.ttlMs;
    const result = await this.writeLock.run(() =>
      this.records.delete({ createdAt: LessThanOrEqual(cutoff) }),
    );
    return result.affected ?? 0;
  }

  /** Extends the lease of every claim this process still holds, in one statement. */
  async renewLeases(): Promise<number> {
    if (this.held.size === 0) return 0;
    const tokens = [...this.held];
    const result = await this.writeLock.run(() =>
      this.records.update(
        { lockToken: In(tokens), status: IdempotencyStatus.InProgress },
        { leaseUntil: this.options.now() + this.options.leaseMs },
      ),
    );
    return result.affected ?? 0;
  }

  /**
   * Runs `work` at most once per (scope, key). `work` calls `seal` inside the transaction that
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
    this.held.add(claim.token);
    try {
      return await this.run(scope, claim, work);
    } finally {
      this.held.delete(claim.token);
    }
  }

  private async run(
    scope: IdempotencyScope,
    claim: Claim,
    work: (seal: Seal) => Promise<StoredResponse>,
  ): Promise<IdempotentResult> {
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
        await this.writeLock.run(() => this.complete(this.records.manager, claim, refusal));
        return { response: refusal, replayed: false };
      }
      // A no-op when the work's transaction did commit the answer: only IN_PROGRESS rows go.
      await this.release(claim).catch((releaseErr: unknown) =>
        this.logger.warn({ msg: 'idempotency key release failed', err: releaseErr }),
      );
      throw err;
    }
    if (!sealed)
      await this.writeLock.run(() => this.complete(this.records.manager, claim, response));
    return { response, replayed: false };
  }

  /**
   * A write answered with `status` and the body `work` returns, at most once per key when the
   * request carries one (no key: run as usual, nothing recorded). `work` calls `sealBody` inside
   * the transaction that writes its effects, with the body it will return.
   */
  async perform<T>(
    write: WriteRequest,
    fingerprint: Fingerprint,
    status: number,
    work: (sealBody: SealBody) => Promise<T>,
  ): Promise<IdempotentResult> {
    if (write.key === undefined) {
      return { response: { status, body: await work(NO_SEAL_BODY) }, replayed: false };
    }
    const scope = {
      scope: write.scope,
      key: write.key,
      requestHash: requestHash(fingerprint),
      requestId: write.requestId,
    };
    return this.execute(scope, async (seal) => ({
      status,
      body: await work((manager, body) => seal(manager, { status, body })),
    }));
  }

  /** Claims the key for this request, or says what an earlier request with it decided. */
  private async claim(scope: IdempotencyScope): Promise<Claim | { response: StoredResponse }> {
    const { key } = scope;
    for (let round = 0; round < MAX_CLAIM_ROUNDS; round++) {
      const now = this.options.now();
      const token = randomUUID();
      if (await this.tryInsert(scope, token, now)) return { scope: scope.scope, key, token };
      const existing = await this.writeLock.run(() =>
        this.records.findOneBy({ scope: scope.scope, key }),
      );
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
          if (await this.takeOver(existing, token, now)) {
            this.logger.warn({
              msg: 'took over an idempotency key whose holder is gone',
              scope: scope.scope,
              previousOwner: existing.lockOwner,
            });
            return { scope: scope.scope, key, token };
          }
          continue;
        case 'expired':
          await this.writeLock.run(() =>
            this.records.delete({ id: existing.id, createdAt: existing.createdAt }),
          );
          continue;
      }
    }
    throw new ConflictException('a request with this Idempotency-Key is still in progress');
  }

  /** Inserts the IN_PROGRESS row; false when the unique (scope, key) constraint says it exists. */
  private async tryInsert(scope: IdempotencyScope, token: string, now: number): Promise<boolean> {
    try {
      await this.writeLock.run(() =>
        this.records.insert({
          scope: scope.scope,
          key: scope.key,
          requestHash: scope.requestHash,
          status: IdempotencyStatus.InProgress,
          lockToken: token,
          lockOwner: this.owner,
          leaseUntil: now + this.options.leaseMs,
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
  private async takeOver(
    existing: IdempotencyRecord,
    token: string,
    now: number,
  ): Promise<boolean> {
    const result = await this.writeLock.run(() =>
      this.records.update(
        {
          id: existing.id,
          status: IdempotencyStatus.InProgress,
          lockToken: existing.lockToken!,
        },
        { lockToken: token, lockOwner: this.owner, leaseUntil: now + this.options.leaseMs },
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
      IdempotencyRecord,
      {
        scope: claim.scope,
        key: claim.key,
        lockToken: claim.token,
        status: IdempotencyStatus.InProgress,
      },
      {
        status: IdempotencyStatus.Completed,
        lockToken: null,
        lockOwner: null,
        responseStatus: response.status,
        responseBody: response.body === undefined ? null : JSON.stringify(response.body),
      },
    );
    if (result.affected !== 1) throw new ClaimLostException();
  }

  /** Frees the key after an answer that was not final, so the client's retry can run. */
  private async release(claim: Claim): Promise<void> {
    await this.writeLock.run(() =>
      this.records.delete({
        scope: claim.scope,
        key: claim.key,
        lockToken: claim.token,
        status: IdempotencyStatus.InProgress,
      }),
    );
  }
}
