import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Checkout's own `idempotency_keys` table becomes the shared `idempotency_records` (scope
 * `user:<id>`); a claim in progress keeps the old 30 s window as its lease.
 */
export class MoveIdempotencyKeys1765000000001 implements MigrationInterface {
  name = 'MoveIdempotencyKeys1765000000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `INSERT INTO idempotency_records
         (scope, idem_key, request_hash, status, lock_token, lock_owner, lease_until, created_at,
          response_status, response_body)
       SELECT 'user:' || CAST(user_id AS VARCHAR(20)), idem_key, request_hash, status, lock_token,
          NULL, locked_at + 30000, created_at, response_status, response_body
       FROM idempotency_keys`,
    );
    await queryRunner.dropTable('idempotency_keys');
  }

  down(): Promise<void> {
    return Promise.reject(new Error('MoveIdempotencyKeys1765000000001 cannot be reverted'));
  }
}
