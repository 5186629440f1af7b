// Jest setup for scripts/test-postgres.mjs, run once per suite file before the file loads: a new
// PostgreSQL database as DATABASE_URL, dropped once the file's tests (and their apps) are done.
/* global afterAll */
const { execFileSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { join } = require('node:path');
const pg = require('pg');

const adminUrl = process.env.TEST_POSTGRES_URL;
const name = `${process.env.TEST_POSTGRES_PREFIX}_${randomBytes(4).toString('hex')}`;
// Synchronously: the suites read DATABASE_URL while jest collects their tests, before any hook.
execFileSync(process.execPath, [join(__dirname, 'test-postgres.mjs'), '--create', name], {
  stdio: 'inherit',
});
const url = new URL(adminUrl);
url.pathname = `/${name}`;
process.env.DATABASE_URL = url.toString();

afterAll(async () => {
  delete process.env.DATABASE_URL;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
});
