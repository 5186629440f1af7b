import { MigrationInterface, QueryRunner, Table, TableUnique } from 'typeorm';

export class CreateUsers1764150000000 implements MigrationInterface {
  name = 'CreateUsers1764150000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'users',
        columns: [
          {
            name: 'id',
            type: 'integer',
            isPrimary: true,
            isGenerated: true,
            generationStrategy: 'increment',
          },
          { name: 'name', type: 'varchar', length: '100', isNullable: false },
          { name: 'email', type: 'varchar', length: '254', isNullable: false },
          { name: 'password_hash', type: 'varchar', length: '255', isNullable: false },
          { name: 'roles', type: 'varchar', length: '200', isNullable: false },
          { name: 'created_at', type: 'varchar', length: '30', isNullable: false },
          { name: 'updated_at', type: 'varchar', length: '30', isNullable: false },
        ],
        // Emails are stored normalised, so a plain unique constraint is case-insensitive in effect.
        uniques: [new TableUnique({ name: 'UQ_users_email', columnNames: ['email'] })],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('users');
  }
}
