import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** bigint columns come back as strings on PostgreSQL; epoch milliseconds fit a JS number. */
const epochMs = {
  to: (value: number): number => value,
  from: (value: string | number): number => Number(value),
};

export enum IdempotencyStatus {
  /** Claimed by a request that has not answered yet. */
  InProgress = 'IN_PROGRESS',
  /** Answered; `responseStatus` / `responseBody` are replayed to any retry. */
  Completed = 'COMPLETED',
}

/** One client-chosen `Idempotency-Key` within one scope (a user, or an email at sign-up). */
@Entity('idempotency_records')
export class IdempotencyRecord {
  @PrimaryGeneratedColumn()
  id!: number;

  /** Whose key it is, e.g. `user:5` or `signup:ada@example.com`; unique with the key. */
  @Column({ type: 'varchar', length: 300 })
  scope!: string;

  @Column({ name: 'idem_key', type: 'varchar', length: 255 })
  key!: string;

  /** SHA-256 of the canonical request, so a reused key with another request is told apart. */
  @Column({ name: 'request_hash', type: 'varchar', length: 64 })
  requestHash!: string;

  @Column({ type: 'varchar', length: 16 })
  status!: IdempotencyStatus;

  /** Random token of the request holding the claim; completing or releasing needs it. */
  @Column({ name: 'lock_token', type: 'varchar', length: 36, nullable: true })
  lockToken!: string | null;

  /** `host/pid/boot` of the process holding the claim (see `ProcessIdentity`). */
  @Column({ name: 'lock_owner', type: 'varchar', length: 300, nullable: true })
  lockOwner!: string | null;

  /** Epoch ms until which the claim holds unless its holder renews it. */
  @Column({ name: 'lease_until', type: 'bigint', transformer: epochMs })
  leaseUntil!: number;

  /** Epoch ms of the first claim; the key is forgotten 24 h later. */
  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt!: number;

  @Column({ name: 'response_status', type: 'integer', nullable: true })
  responseStatus!: number | null;

  /** The answer's JSON body, verbatim (null for an answer without a body, e.g. 204). */
  @Column({ name: 'response_body', type: 'text', nullable: true })
  responseBody!: string | null;
}
