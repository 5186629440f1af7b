import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

export class CreateOrders1764160000000 implements MigrationInterface {
  name = 'CreateOrders1764160000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'orders',
        columns: [
          {
            name: 'id',
            type: 'integer',
            isPrimary: true,
            isGenerated: true,
            generationStrategy: 'increment',
          },
          // Ids minted by other services: bigint, so any id they may send fits.
          { name: 'user_id', type: 'bigint', isNullable: false },
          { name: 'product_id', type: 'bigint', isNullable: false },
          { name: 'quantity', type: 'integer', isNullable: false },
          { name: 'unit_price_minor', type: 'bigint', isNullable: false },
          { name: 'total_price_minor', type: 'bigint', isNullable: false },
          { name: 'status', type: 'varchar', length: '16', isNullable: false },
          { name: 'created_at', type: 'varchar', length: '30', isNullable: false },
          { name: 'updated_at', type: 'varchar', length: '30', isNullable: false },
        ],
      }),
    );
    // "My orders" pages are read by user, newest first.
    await queryRunner.createIndex(
      'orders',
      new TableIndex({ name: 'idx_orders_user_id', columnNames: ['user_id', 'id'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('orders');
  }
}
