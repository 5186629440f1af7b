import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/** The shared `Idempotency-Key` table; every service that honours the header lists this migration. */
export class CreateIdempotencyRecords1765000000000 implements MigrationInterface {
  name = 'CreateIdempotencyRecords1765000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'idempotency_records',
        columns: [
          {
            name: 'id',
            type: 'integer',
            isPrimary: true,
            isGenerated: true,
            generationStrategy: 'increment',
          },
          { name: 'scope', type: 'varchar', length: '300', isNullable: false },
          { name: 'idem_key', type: 'varchar', length: '255', isNullable: false },
          { name: 'request_hash', type: 'varchar', length: '64', isNullable: false },
          { name: 'status', type: 'varchar', length: '16', isNullable: false },
          { name: 'lock_token', type: 'varchar', length: '36', isNullable: true },
          { name: 'lock_owner', type: 'varchar', length: '300', isNullable: true },
          { name: 'lease_until', type: 'bigint', isNullable: false },
          { name: 'created_at', type: 'bigint', isNullable: false },
          { name: 'response_status', type: 'integer', isNullable: true },
          { name: 'response_body', type: 'text', isNullable: true },
        ],
        // The constraint, not a read-then-write, decides which of two racing requests owns a key.
        uniques: [{ name: 'uq_idempotency_records_scope_key', columnNames: ['scope', 'idem_key'] }],
      }),
    );
    await queryRunner.createIndex(
      'idempotency_records',
      new TableIndex({ name: 'idx_idempotency_records_created_at', columnNames: ['created_at'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('idempotency_records');
  }
}
