import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { integerTransformer } from './order.entity';

export enum IdempotencyKeyStatus {
  /** Claimed by a request that has not answered yet. */
  InProgress = 'IN_PROGRESS',
  /** Answered; `responseStatus` / `responseBody` are replayed to any retry. */
  Completed = 'COMPLETED',
}

/** One client-chosen `Idempotency-Key` of one user, unique on (user_id, idem_key). */
@Entity('idempotency_keys')
export class IdempotencyKey {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'user_id', type: 'bigint', transformer: integerTransformer })
  userId!: number;

  @Column({ name: 'idem_key', type: 'varchar', length: 255 })
  key!: string;

  /** SHA-256 of the canonical request, so a reused key with another body is told apart. */
  @Column({ name: 'request_hash', type: 'varchar', length: 64 })
  requestHash!: string;

  @Column({ type: 'varchar', length: 16 })
  status!: IdempotencyKeyStatus;

  /** Random token of the request holding the claim; completing or releasing needs it. */
  @Column({ name: 'lock_token', type: 'varchar', length: 36, nullable: true })
  lockToken!: string | null;

  /** Epoch ms when the current holder claimed (or took over) the key. */
  @Column({ name: 'locked_at', type: 'bigint', transformer: integerTransformer })
  lockedAt!: number;

  /** Epoch ms of the first claim; the key is forgotten 24 h later. */
  @Column({ name: 'created_at', type: 'bigint', transformer: integerTransformer })
  createdAt!: number;

  @Column({ name: 'response_status', type: 'integer', nullable: true })
  responseStatus!: number | null;

  /** The answer's JSON body, verbatim. */
  @Column({ name: 'response_body', type: 'text', nullable: true })
  responseBody!: string | null;
}
