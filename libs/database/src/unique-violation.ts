import { QueryFailedError } from 'typeorm';

/** Driver codes for a unique-constraint violation: PostgreSQL's SQLSTATE and better-sqlite3's code. */
const UNIQUE_VIOLATION_CODES = new Set(['23505', 'SQLITE_CONSTRAINT_UNIQUE']);

/** Whether a failed query broke a unique constraint (two writers racing for one value), on either driver. */
export function isUniqueViolation(err: unknown): boolean {
  if (!(err instanceof QueryFailedError)) return false;
  const code = (err.driverError as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && UNIQUE_VIOLATION_CODES.has(code);
}
