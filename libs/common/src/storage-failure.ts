import { RetryLaterException } from './retry-later.exception';

/** better-sqlite3 codes (extended codes start with these) for a database that cannot take writes. */
const SQLITE_CODES = [
  'SQLITE_FULL',
  'SQLITE_IOERR',
  'SQLITE_READONLY',
  'SQLITE_BUSY',
  'SQLITE_CANTOPEN',
];

/**
 * PostgreSQL SQLSTATEs: 53xxx insufficient resources (53100 disk_full), 57P0x the server shutting
 * down or not accepting connections, 08xxx connection exceptions, 25006 read-only transaction.
 */
const PG_STATE = /^(53\d{3}|57P0\d|08\d{3}|25006)$/;

/** Socket errors of a lost database connection. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH']);

/** node-postgres reports a lost or unobtainable connection by message only. */
const PG_CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
];

function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; driverError?: unknown };
  if (typeof e.code === 'string') return e.code;
  return e.driverError === undefined ? undefined : codeOf(e.driverError);
}

/**
 * Whether `err` (a TypeORM QueryFailedError or a driver error) means the database cannot store
 * data now: disk full, I/O error, read-only, locked past the busy timeout, connection lost. Such a
 * failure is the service's storage, not the request: a 503 the client may retry.
 */
export function isStorageUnavailable(err: unknown): boolean {
  const code = codeOf(err);
  if (code !== undefined) {
    if (SQLITE_CODES.some((c) => code === c || code.startsWith(`${c}_`))) return true;
    if (PG_STATE.test(code) || NETWORK_CODES.has(code)) return true;
  }
  const message = err instanceof Error ? err.message : '';
  return PG_CONNECTION_MESSAGES.some((m) => message.includes(m));
}

/** Seconds a client is asked to wait before retrying a write the storage refused. */
const STORAGE_RETRY_AFTER_SECONDS = 5;

/** The 503 for a request that failed because the database cannot take writes now. */
export class StorageUnavailableException extends RetryLaterException {
  constructor() {
    super('the service cannot store data now; try again later', STORAGE_RETRY_AFTER_SECONDS);
  }
}
