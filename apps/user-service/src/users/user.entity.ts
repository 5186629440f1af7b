import { UserView } from '@app/contracts';
import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** Roles live in one column as `admin,user`; role names never contain a comma. */
const rolesTransformer = {
  to: (roles: string[]): string => roles.join(','),
  from: (value: string): string[] => (value ? value.split(',') : []),
};

@Entity('users')
export class User {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  /** Always stored in canonical form (`canonicalEmail`); unique. */
  @Column({ type: 'varchar', length: 254 })
  email!: string;

  /** `emailSkeleton(email)`: what the address looks like; no two accounts share one. */
  @Column({ name: 'email_skeleton', type: 'varchar', length: 254 })
  emailSkeleton!: string;

  /** scrypt, self-describing (see `PasswordHasher`); never leaves the service. */
  @Column({ name: 'password_hash', type: 'varchar', length: 255 })
  passwordHash!: string;

  @Column({ type: 'varchar', length: 200, transformer: rolesTransformer })
  roles!: string[];

  @Column({ name: 'created_at', type: 'varchar', length: 30 })
  createdAt!: string;

  @Column({ name: 'updated_at', type: 'varchar', length: 30 })
  updatedAt!: string;

  toView(): UserView {
    return { id: this.id, name: this.name, email: this.email, roles: [...this.roles] };
  }
}
