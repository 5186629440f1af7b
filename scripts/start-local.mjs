#!/usr/bin/env node
// Runs the whole system on this machine: every service replica and the gateway, on SQLite files
// under ./data. Like an orchestrator it restarts a replica that dies, after a short growing delay,
// while the others keep serving; Ctrl-C or SIGTERM stops everything.
//   node scripts/start-local.mjs          from the build in dist/ (npm start)
//   node scripts/start-local.mjs --watch  rebuilds each app on change and restarts its replicas (npm run dev)
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LOCAL_PROCESSES, localEnv } from './lib/dev-env.mjs';
import { eachLine, isRoutineProbe, prettyLine } from './lib/log-format.mjs';

const root = resolve(import.meta.dirname, '..');
const dataDir = resolve(process.env.DATA_DIR ?? join(root, 'data'));
const logDir = join(dataDir, 'logs');
const watch = process.argv.includes('--watch');
const entry = (app) => join(root, 'dist', 'apps', app, 'apps', app, 'src', 'main.js');
const nestCli = join(root, 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js');

const processes = LOCAL_PROCESSES;
const apps = [...new Set(processes.map((p) => p.app))];

const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 15_000;
const FIRST_RESTART_DELAY_MS = 1_000;
const MAX_RESTART_DELAY_MS = 30_000;
/** A replica that stayed up this long starts again from the shortest restart delay. */
const STABLE_AFTER_MS = 30_000;

const terminal = process.stdout.isTTY === true;
/** In watch mode every line reaches the terminal; otherwise only stderr, the full logs go to files. */
const showStdout = watch;

if (!watch) {
  for (const app of apps) {
    if (!existsSync(entry(app))) {
      console.error(`missing build of ${app}: run "npm run build" first`);
      process.exit(1);
    }
  }
}
mkdirSync(logDir, { recursive: true });

const supervised = [];
const builders = [];
let stopping = false;

const label = (p) => `${p.name}:${p.port}`;

function show(labelText, line) {
  process.stderr.write(`${prettyLine(labelText, line, { colour: terminal })}\n`);
}

function launch(p) {
  const args = watch ? ['--watch', entry(p.app)] : [entry(p.app)];
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: localEnv({ root, dataDir, ...p }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  eachLine(child.stdout, (line) => {
    p.log.write(`${line}\n`);
    if (showStdout && !isRoutineProbe(line)) show(label(p), line);
  });
  eachLine(child.stderr, (line) => {
    p.log.write(`${line}\n`);
    show(label(p), line);
  });
  p.child = child;
  p.startedAt = Date.now();
  child.on('exit', (code, signal) => {
    if (stopping) return;
    const upMs = Date.now() - p.startedAt;
    if (upMs >= STABLE_AFTER_MS) p.delayMs = FIRST_RESTART_DELAY_MS;
    p.restarts += 1;
    const reason = signal ?? `code ${code}`;
    console.error(
      `${label(p)} exited (${reason}) after ${(upMs / 1000).toFixed(1)}s; restarting in ${p.delayMs / 1000}s (restart ${p.restarts})`,
    );
    p.timer = setTimeout(() => launch(p), p.delayMs);
    p.delayMs = Math.min(p.delayMs * 2, MAX_RESTART_DELAY_MS);
  });
}

function supervise(p) {
  p.log = createWriteStream(join(logDir, `${p.name}-${p.port}.log`), { flags: 'a' });
  p.delayMs = FIRST_RESTART_DELAY_MS;
  p.restarts = 0;
  supervised.push(p);
  launch(p);
}

/** One TypeScript watcher per app; its replicas restart through `node --watch` when it writes. */
function startBuilder(app) {
  const child = spawn(
    process.execPath,
    [nestCli, 'build', app, '--watch', '--preserveWatchOutput'],
    {
      cwd: root,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const compiled = new Promise((resolveCompiled, rejectCompiled) => {
    const onLine = (line) => {
      if (/Found 0 errors/.test(line)) resolveCompiled();
      if (/error TS\d+/.test(line) || /Found [1-9]\d* error/.test(line)) {
        console.error(`[build ${app}] ${line}`);
      }
    };
    eachLine(child.stdout, onLine);
    eachLine(child.stderr, onLine);
    child.on('exit', (code) => {
      if (!stopping) rejectCompiled(new Error(`build watcher of ${app} exited (code ${code})`));
    });
  });
  builders.push(child);
  return compiled;
}

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

function stopChild(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveExit) => {
    child.once('exit', resolveExit);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS).unref();
  });
}

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  for (const p of supervised) clearTimeout(p.timer);
  await Promise.all([...supervised.map((p) => stopChild(p.child)), ...builders.map(stopChild)]);
  console.log('all processes stopped');
  process.exit(code);
}

process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));
// A closed terminal: the gateway takes SIGHUP as a config reload, so it is stopped here with the rest.
process.on('SIGHUP', () => void stopAll(0));

const services = processes.filter((p) => p.app !== 'gateway');
const gateway = processes.filter((p) => p.app === 'gateway');
try {
  if (watch) {
    console.log('compiling %s in watch mode ...', apps.join(', '));
    await Promise.all(apps.map(startBuilder));
  }
  services.forEach(supervise);
  await Promise.all(services.map(waitReady));
  gateway.forEach(supervise);
  await Promise.all(gateway.map(waitReady));
} catch (err) {
  console.error(err.message);
  await stopAll(1);
}

console.log('\nsystem is up (logs in %s):', logDir);
for (const p of processes) console.log(`  ${p.name.padEnd(17)} http://127.0.0.1:${p.port}`);
console.log(
  '\nclients use the gateway: http://127.0.0.1:8080/api/... ; a replica that dies is restarted; Ctrl-C stops everything\n',
);
