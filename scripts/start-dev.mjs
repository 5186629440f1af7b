#!/usr/bin/env node
// One app in watch mode (`nest start <app> --watch`) with the local environment of `npm start`:
// its first local port, its SQLite file under ./data, the local gateway config and signing secret.
//   npm run start:dev -- gateway
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { LOCAL_PROCESSES, localEnv } from './lib/dev-env.mjs';
import { eachLine, prettyLine } from './lib/log-format.mjs';

const root = resolve(import.meta.dirname, '..');
const dataDir = resolve(process.env.DATA_DIR ?? join(root, 'data'));
const app = process.argv[2];
const local = LOCAL_PROCESSES.find((p) => p.app === app);
if (!local) {
  const names = [...new Set(LOCAL_PROCESSES.map((p) => p.app))].join(', ');
  console.error(`usage: npm run start:dev -- <app>, where <app> is one of: ${names}`);
  process.exit(2);
}
const env = localEnv({ root, dataDir, ...local, port: process.env.PORT ?? local.port });
const nestCli = join(root, 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js');
const child = spawn(process.execPath, [nestCli, 'start', app, '--watch', '--preserveWatchOutput'], {
  cwd: root,
  env,
  stdio: ['inherit', 'pipe', 'pipe'],
  // Its own process group, so that a stop reaches the app that the CLI starts, not only the CLI.
  detached: true,
});
const colour = process.stdout.isTTY === true;
const label = `${app}:${env.PORT}`;
eachLine(child.stdout, (line) => process.stdout.write(`${prettyLine(label, line, { colour })}\n`));
eachLine(child.stderr, (line) => process.stderr.write(`${prettyLine(label, line, { colour })}\n`));
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  });
}
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
