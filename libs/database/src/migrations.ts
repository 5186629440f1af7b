import { DataSource, EntityManager } from 'typeorm';

/** Inserts a service's first rows; must only use `insert` (no nested transactions) and leave existing rows alone. */
export type SeedFunction = (manager: EntityManager) => Promise<void>;

/** Arbitrary constant naming this system's schema lock in PostgreSQL. */
const PG_SCHEMA_LOCK = 7_142_020;

/**
 * Applies pending migrations, then the seed, while holding a database-wide lock: `BEGIN IMMEDIATE`
 * on SQLite, an advisory lock on PostgreSQL. A replica starting at the same moment waits, then
 * finds nothing left to do.
 */
export async function prepareSchema(dataSource: DataSource, seed?: SeedFunction): Promise<void> {
  if (dataSource.options.type === 'postgres') {
    const lock = dataSource.createQueryRunner();
    await lock.connect();
    try {
      await lock.query('SELECT pg_advisory_lock($1)', [PG_SCHEMA_LOCK]);
      await dataSource.runMigrations({ transaction: 'each' });
      if (seed) await dataSource.transaction((manager) => seed(manager));
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1)', [PG_SCHEMA_LOCK]).catch(() => undefined);
      await lock.release();
    }
    return;
  }
  // better-sqlite3 runs every query on one connection, so this transaction wraps all that follows.
  await dataSource.query('BEGIN IMMEDIATE');
  try {
    await dataSource.runMigrations({ transaction: 'none' });
    if (seed) await seed(dataSource.manager);
    await dataSource.query('COMMIT');
  } catch (err) {
    await dataSource.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
