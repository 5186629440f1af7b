import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/** The table `/health/ready` writes to; every service with a database lists this migration. */
export class CreateStorageProbe1765000000100 implements MigrationInterface {
  name = 'CreateStorageProbe1765000000100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'storage_probe',
        columns: [
          {
            name: 'id',
            type: 'integer',
            isPrimary: true,
            isGenerated: true,
            generationStrategy: 'increment',
          },
          { name: 'payload', type: 'text', isNullable: false },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('storage_probe');
  }
}
