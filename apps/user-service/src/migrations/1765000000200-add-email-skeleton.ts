import { canonicalEmail, emailSkeleton } from '@app/contracts';
import { MigrationInterface, QueryRunner, TableColumn, TableIndex } from 'typeorm';

/** What each address looks like (`emailSkeleton`), so a look-alike of an account is refused. */
export class AddEmailSkeleton1765000000200 implements MigrationInterface {
  name = 'AddEmailSkeleton1765000000200';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn(
      'users',
      new TableColumn({
        name: 'email_skeleton',
        type: 'varchar',
        length: '254',
        isNullable: false,
        default: "''",
      }),
    );
    const rows = (await queryRunner.query('SELECT id, email FROM users')) as Array<{
      id: number;
      email: string;
    }>;
    for (const row of rows) {
      await queryRunner.manager
        .createQueryBuilder()
        .update('users')
        .set({ email_skeleton: emailSkeleton(canonicalEmail(row.email)) })
        .where('id = :id', { id: row.id })
        .execute();
    }
    // Not unique: accounts made before this rule may share a skeleton; new ones are checked.
    await queryRunner.createIndex(
      'users',
      new TableIndex({ name: 'idx_users_email_skeleton', columnNames: ['email_skeleton'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('users', 'idx_users_email_skeleton');
    await queryRunner.dropColumn('users', 'email_skeleton');
  }
}
