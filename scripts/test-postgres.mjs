#!/usr/bin/env node
// Runs the services' e2e suites (and the gateway's auth suite, which runs the real user service)
// against PostgreSQL: every suite file gets a database of its own, created on the server of
// TEST_POSTGRES_URL (default: postgres@127.0.0.1:5432, trust auth) and dropped afterwards.
// When PostgreSQL does not answer: an error under CI=true, otherwise a skip that says why.
//
//   node scripts/test-postgres.mjs [extra jest arguments]
//   node scripts/test-postgres.mjs --create <database>   (used by the jest setup file)
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import pg from 'pg';

const root = resolve(import.meta.dirname, '..');
const adminUrl = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Runs `sql` on the server's maintenance database. */
async function admin(sql) {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

if (process.argv[2] === '--create') {
  const name = process.argv[3];
  if (!/^[a-z0-9_]+$/.test(name ?? '')) throw new Error(`bad database name ${name}`);
  await admin(`CREATE DATABASE ${name}`);
  process.exit(0);
}

/** The suites to run: every e2e file of the three services, and the gateway's auth suite. */
function suites() {
  const files = ['user-service', 'product-service', 'checkout-service'].flatMap((app) => {
    const dir = join(root, 'apps', app, 'test');
    return readdirSync(dir)
      .filter((f) => f.endsWith('.e2e-spec.ts'))
      .map((f) => join(dir, f));
  });
  files.push(join(root, 'apps', 'gateway', 'test', 'auth.e2e-spec.ts'));
  return files.map((f) => relative(root, f));
}

const escape = (path) => path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

try {
  await admin('SELECT 1');
} catch (err) {
  const reason = `PostgreSQL at ${new URL(adminUrl).host} does not answer (${err.message})`;
  if (process.env.CI === 'true') {
    console.error(`test:postgres: ${reason}`);
    process.exit(1);
  }
  console.error(`test:postgres: SKIPPED, ${reason}; set CI=true to make this an error`);
  process.exit(0);
}

// Lower case and digits only: the name goes into SQL unquoted.
const prefix = `e2e_${Date.now().toString(36)}_${process.pid}`;
const started = performance.now();
const jest = spawn(
  process.execPath,
  [
    join(root, 'node_modules', 'jest', 'bin', 'jest.js'),
    '--config',
    'jest.config.ts',
    '--selectProjects',
    'e2e',
    '--setupFilesAfterEnv',
    join(root, 'scripts', 'test-postgres.setup.cjs'),
    '--testPathPatterns',
    ...suites().map((f) => `${escape(f)}$`),
    ...process.argv.slice(2),
  ],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, TEST_POSTGRES_URL: adminUrl, TEST_POSTGRES_PREFIX: prefix },
  },
);
const forward = (signal) => jest.kill(signal);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
const code = await new Promise((resolveExit) =>
  jest.once('exit', (exitCode, signal) => resolveExit(exitCode ?? (signal ? 1 : 0))),
);

// Each suite drops its own database; this catches those of a suite that crashed or was cut.
const left = await admin(
  `SELECT datname FROM pg_database WHERE datname LIKE '${prefix}\\_%' ESCAPE '\\'`,
);
for (const { datname } of left.rows) await admin(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
const seconds = Math.round((performance.now() - started) / 1000);
console.error(
  `test:postgres: ${suites().length} suites on PostgreSQL in ${seconds} s` +
    (left.rows.length ? `; dropped ${left.rows.length} database(s) left behind` : ''),
);
process.exit(code);
