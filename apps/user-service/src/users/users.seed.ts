import { emailSkeleton } from '@app/contracts';
import { EntityManager } from 'typeorm';
import { PasswordHasher } from './password-hasher';
import { User } from './user.entity';

/** Development accounts; their passwords are in the README and must never reach production. */
const SEED_USERS = [
  {
    name: 'Ada Admin',
    email: 'admin@example.com',
    password: 'admin-password-123',
    roles: ['admin', 'user'],
  },
  { name: 'Uma User', email: 'user@example.com', password: 'user-password-123', roles: ['user'] },
];

/** Fills an empty user table on first start; a table that has any row is never touched. */
export async function seedUsers(manager: EntityManager): Promise<void> {
  if ((await manager.count(User)) > 0) return;
  const hasher = new PasswordHasher();
  const now = new Date().toISOString();
  const rows = await Promise.all(
    SEED_USERS.map(async (u) => ({
      name: u.name,
      email: u.email,
      emailSkeleton: emailSkeleton(u.email),
      passwordHash: await hasher.hash(u.password),
      roles: u.roles,
      createdAt: now,
      updatedAt: now,
    })),
  );
  await manager.insert(User, rows);
}
