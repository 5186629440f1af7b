import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

export class CreateIdempotencyKeys1764160000001 implements MigrationInterface {
  name = 'CreateIdempotencyKeys1764160000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'idempotency_keys',
        columns: [
          {
            name: 'id',
            type: 'integer',
            isPrimary: true,
            isGenerated: true,
            generationStrategy: 'increment',
          },
          { name: 'user_id', type: 'bigint', isNullable: false },
          { name: 'idem_key', type: 'varchar', length: '255', isNullable: false },
          { name: 'request_hash', type: 'varchar', length: '64', isNullable: false },
          { name: 'status', type: 'varchar', length: '16', isNullable: false },
          { name: 'lock_token', type: 'varchar', length: '36', isNullable: true },
          { name: 'locked_at', type: 'bigint', isNullable: false },
          { name: 'created_at', type: 'bigint', isNullable: false },
          { name: 'response_status', type: 'integer', isNullable: true },
          { name: 'response_body', type: 'text', isNullable: true },
        ],
        // The constraint, not a read-then-write, decides which of two racing requests owns a key.
        uniques: [{ name: 'uq_idempotency_keys_user_key', columnNames: ['user_id', 'idem_key'] }],
      }),
    );
    await queryRunner.createIndex(
      'idempotency_keys',
      new TableIndex({ name: 'idx_idempotency_keys_created_at', columnNames: ['created_at'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('idempotency_keys');
  }
}
