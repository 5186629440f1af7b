#!/usr/bin/env node
// Starts the whole system from the build in dist/: every service replica and the gateway,
// on SQLite files under ./data, and stops them all on Ctrl-C or SIGTERM.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const dataDir = resolve(process.env.DATA_DIR ?? join(root, 'data'));
const logDir = join(dataDir, 'logs');
const entry = (app) => join(root, 'dist', 'apps', app, 'apps', app, 'src', 'main.js');

const processes = [
  { name: 'product-service', app: 'product-service', port: 3001, db: 'products.db' },
  { name: 'product-service', app: 'product-service', port: 3003, db: 'products.db' },
  { name: 'user-service', app: 'user-service', port: 3002, db: 'users.db' },
  { name: 'user-service', app: 'user-service', port: 3004, db: 'users.db' },
  { name: 'checkout-service', app: 'checkout-service', port: 3005, db: 'orders.db' },
  { name: 'gateway', app: 'gateway', port: 8080 },
];

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

for (const p of processes) {
  if (!existsSync(entry(p.app))) {
    console.error(`missing build of ${p.app}: run "npm run build" first`);
    process.exit(1);
  }
}
mkdirSync(logDir, { recursive: true });

const children = [];
let stopping = false;

function start(p) {
  const log = createWriteStream(join(logDir, `${p.name}-${p.port}.log`), { flags: 'a' });
  const env = {
    ...process.env,
    PORT: String(p.port),
    HOST: process.env.HOST ?? '127.0.0.1',
    ...(p.db ? { DATABASE_PATH: process.env.DATABASE_URL ? undefined : join(dataDir, p.db) } : {}),
    ...(p.app === 'gateway'
      ? { GATEWAY_CONFIG: process.env.GATEWAY_CONFIG ?? join(root, 'config', 'gateway.local.yaml') }
      : {}),
  };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  const child = spawn(process.execPath, [entry(p.app)], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log);
  child.stderr.on('data', (chunk) => {
    log.write(chunk);
    process.stderr.write(prefix(p, chunk));
  });
  child.on('exit', (code, signal) => {
    if (stopping) return;
    console.error(
      `${label(p)} exited unexpectedly (${signal ?? `code ${code}`}); stopping everything`,
    );
    void stopAll(1);
  });
  children.push({ ...p, child });
}

const label = (p) => `${p.name}:${p.port}`;
const prefix = (p, chunk) =>
  chunk
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((line) => `[${label(p)}] ${line}\n`)
    .join('');

async function waitReady(p) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && !stopping) {
    try {
      const res = await fetch(`http://127.0.0.1:${p.port}/health/ready`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${label(p)} not ready after ${READY_TIMEOUT_MS / 1000}s (see ${logDir})`);
}

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  const exits = children
    .filter(({ child }) => child.exitCode === null && child.signalCode === null)
    .map(
      ({ child }) =>
        new Promise((resolveExit) => {
          child.once('exit', resolveExit);
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS).unref();
        }),
    );
  await Promise.all(exits);
  console.log('all processes stopped');
  process.exit(code);
}

process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

const services = processes.filter((p) => p.app !== 'gateway');
const gateway = processes.filter((p) => p.app === 'gateway');
try {
  services.forEach(start);
  await Promise.all(services.map(waitReady));
  gateway.forEach(start);
  await Promise.all(gateway.map(waitReady));
} catch (err) {
  console.error(err.message);
  await stopAll(1);
}

console.log('\nsystem is up (logs in %s):', logDir);
for (const p of processes) console.log(`  ${p.name.padEnd(17)} http://127.0.0.1:${p.port}`);
console.log('\nclients use the gateway: http://127.0.0.1:8080/api/... ; Ctrl-C stops everything\n');
