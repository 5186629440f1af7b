import { createRequire } from 'node:module';

/** The calls the tests make of better-sqlite3, which ships no type declarations. */
export interface ReadOnlyDatabase {
  prepare(sql: string): {
    get(...params: unknown[]): unknown;
    all(...params: unknown[]): unknown[];
  };
  close(): void;
}

const Database = createRequire(__filename)('better-sqlite3') as new (
  file: string,
  options: { readonly: boolean },
) => ReadOnlyDatabase;

/** A service's SQLite file opened read-only, to check what the service wrote. */
export function openReadOnly(file: string): ReadOnlyDatabase {
  return new Database(file, { readonly: true });
}
