import { MigrationInterface, QueryRunner, Table } from 'typeorm';

export class CreateProducts1764140000000 implements MigrationInterface {
  name = 'CreateProducts1764140000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'products',
        columns: [
          {
            name: 'id',
            type: 'integer',
            isPrimary: true,
            isGenerated: true,
            generationStrategy: 'increment',
          },
          { name: 'name', type: 'varchar', length: '200', isNullable: false },
          { name: 'price_minor', type: 'bigint', isNullable: false },
          { name: 'created_at', type: 'varchar', length: '30', isNullable: false },
          { name: 'updated_at', type: 'varchar', length: '30', isNullable: false },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('products');
  }
}
