/**
 * Authentication cost on the proxy path: the same GET, in one run, through one gateway (the built
 * dist, as a child process) on a public route and on a route that needs a signed-in user, same
 * backends. Prints req/s, p99 and the ratio authenticated/public (target >= 0.9). A second gateway
 * with the local token cache off shows what every request pays without it (a Redis round trip).
 *
 *   npx nest build gateway
 *   node -r ts-node/register/transpile-only -r tsconfig-paths/register bench/auth.bench.ts \
 *     [--duration=10] [--warmup=2] [--connections=50]
 *
 * Uses the Redis at REDIS_URL (default redis://127.0.0.1:6379) under a key prefix of its own,
 * deleted at the end; without a Redis answering there it falls back to the in-memory store.
 * Everything listens on 127.0.0.1; each process below is a child of this one.
 */
import { createClient } from '@redis/client';
import autocannon from 'autocannon';
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  GATEWAY_ENTRY,
  gatewayEnv,
  HOST,
  option,
  ROOT,
  stop,
  waitReady,
} from './support/bench-process';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const USER = { id: 42, name: 'Bench User', email: 'bench@example.com', roles: ['user'] };

interface Measured {
  label: string;
  rps: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** Backend role: GET answers a small JSON; `/internal/credentials/verify` vouches for USER. */
function runBackend(port: number): void {
  const item = JSON.stringify({ id: 1, name: 'widget', price: '9.99' });
  const user = JSON.stringify(USER);
  createServer((req: IncomingMessage, res: ServerResponse) => {
    const body = req.url === '/internal/credentials/verify' ? user : item;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    });
  }).listen(port, HOST);
}

async function redisAnswers(): Promise<boolean> {
  const client = createClient({ url: REDIS_URL, socket: { reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

async function deletePrefix(prefix: string): Promise<void> {
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
    if (keys.length > 0) await client.del(keys);
  }
  await client.close();
}

async function measure(
  label: string,
  url: string,
  headers: Record<string, string>,
  seconds: number,
  connections: number,
): Promise<Measured> {
  const result = await autocannon({ url, method: 'GET', connections, duration: seconds, headers });
  return {
    label,
    rps: result.requests.average,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

function formatRow(m: Measured): string {
  return (
    `GET   ${m.label.padEnd(26)} ${m.rps.toFixed(0).padStart(7)} req/s` +
    `  p99 ${String(m.p99).padStart(4)} ms  errors ${m.errors}  non-2xx ${m.non2xx}`
  );
}

async function main(): Promise<void> {
  const duration = option('duration', 10);
  const warmup = option('warmup', 2);
  const connections = option('connections', 50);
  if (!existsSync(GATEWAY_ENTRY)) {
    throw new Error(`${GATEWAY_ENTRY} is missing: run "npx nest build gateway" first`);
  }
  const useRedis = await redisAnswers();
  const prefix = `bench:${randomBytes(4).toString('hex')}:`;

  const dir = mkdtempSync(join(tmpdir(), 'auth-bench-'));
  const [backendA, backendB, cachedPort, uncachedPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const targets = [backendA, backendB].map((p) => `http://${HOST}:${p}`);
  const configFile = join(dir, 'gateway.auth-bench.yaml');
  const service = (name: string, basePath: string, policy: string) => [
    `  - name: ${name}`,
    `    basePath: ${basePath}`,
    '    targets:',
    ...targets.map((t) => `      - ${t}`),
    '    auth:',
    `      default: ${policy}`,
  ];
  writeFileSync(
    configFile,
    [
      'services:',
      ...service('open', '/api/open', 'public'),
      ...service('closed', '/api/closed', 'authenticated'),
      // Logins are checked against the backend, which vouches for USER.
      ...service('user-service', '/api/users', 'authenticated'),
      '',
    ].join('\n'),
  );

  const log = openSync(join(dir, 'gateway.log'), 'a');
  const gateway = (port: number, cache: boolean) =>
    spawn(process.execPath, [GATEWAY_ENTRY], {
      cwd: ROOT,
      env: {
        ...gatewayEnv(port, configFile, 'production'),
        REDIS_URL: useRedis ? REDIS_URL : '',
        REDIS_KEY_PREFIX: prefix,
        AUTH_TOKEN_CACHE: String(cache),
      },
      stdio: ['ignore', log, 'inherit'],
    });
  const children: ChildProcess[] = [
    spawn(process.execPath, [...process.execArgv, __filename, '--role=backend', String(backendA)], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    }),
    spawn(process.execPath, [...process.execArgv, __filename, '--role=backend', String(backendB)], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    }),
    gateway(cachedPort, true),
    gateway(uncachedPort, false),
  ];

  try {
    await Promise.all([
      ...targets.map((t) => waitReady(`${t}/health/ready`)),
      waitReady(`http://${HOST}:${cachedPort}/health/ready`),
      waitReady(`http://${HOST}:${uncachedPort}/health/ready`),
    ]);
    const login = async (port: number): Promise<string> => {
      const res = await fetch(`http://${HOST}:${port}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: USER.email, password: 'bench-password' }),
      });
      if (res.status !== 200) throw new Error(`login answered ${res.status}: ${await res.text()}`);
      return ((await res.json()) as { accessToken: string }).accessToken;
    };
    const auth = (token: string) => ({ authorization: `Bearer ${token}` });
    const cachedToken = await login(cachedPort);
    const uncachedToken = await login(uncachedPort);
    console.log(
      `autocannon: ${connections} connections, ${duration} s per case (${warmup} s warm-up), ` +
        `token store: ${useRedis ? `redis (${REDIS_URL})` : 'in-memory'}, Node ${process.version}\n`,
    );

    const cases = [
      { label: 'public', url: `http://${HOST}:${cachedPort}/api/open/items`, headers: {} },
      {
        label: 'authenticated',
        url: `http://${HOST}:${cachedPort}/api/closed/items`,
        headers: auth(cachedToken),
      },
      {
        label: 'authenticated, no cache',
        url: `http://${HOST}:${uncachedPort}/api/closed/items`,
        headers: auth(uncachedToken),
      },
    ];
    const results: Measured[] = [];
    for (const c of cases) {
      if (warmup > 0) await measure(c.label, c.url, c.headers, warmup, connections);
      const m = await measure(c.label, c.url, c.headers, duration, connections);
      results.push(m);
      console.log(formatRow(m));
    }
    const [open, closed, uncached] = results;
    console.log(
      `\nauthenticated/public ${(closed.rps / open.rps).toFixed(2)}x (target >= 0.90)` +
        `   without the token cache ${(uncached.rps / open.rps).toFixed(2)}x`,
    );
  } finally {
    await Promise.all(children.map(stop));
    rmSync(dir, { recursive: true, force: true });
    if (useRedis) await deletePrefix(prefix);
  }
}

const role = process.argv.find((a) => a.startsWith('--role='))?.split('=')[1];
if (role === 'backend') {
  runBackend(Number(process.argv[process.argv.indexOf('--role=backend') + 1]));
} else {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
