/**
 * Gateway benchmark: the same load, in one run, straight to a backend, through the gateway (the
 * built dist, as a child process with access logs and metrics on) and through fast-gateway 5.0.1,
 * the reference peer. Prints req/s, p99 and the ratios gateway/fast-gateway and gateway/direct.
 *
 *   npx nest build gateway
 *   node -r ts-node/register/transpile-only -r tsconfig-paths/register bench/gateway.bench.ts \
 *     [--duration=10] [--warmup=2] [--connections=50] [--rounds=1] [--profile]
 *
 * With `--rounds=N` every case runs N times, interleaved, and the medians are reported: on a
 * shared machine that evens out background load. `cpu/req` is the CPU time (user + system) the
 * serving process (backend, gateway or fast-gateway) spent per answered request (Linux only).
 * `--profile` starts the gateway with `--cpu-prof` and leaves the profile in bench/profiles/;
 * `--only=gateway` (or direct, fast-gateway) and `--methods=GET` narrow the run, e.g. to profile
 * one case alone.
 * Everything listens on 127.0.0.1; each process below is a child of this one.
 */
import autocannon from 'autocannon';
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  GATEWAY_ENTRY,
  HOST,
  option,
  ROOT,
  stop,
  waitReady,
} from './support/bench-process';

const BASE_PATH = '/api/bench';
const PAYLOAD = JSON.stringify({
  name: 'benchmark order',
  note: 'x'.repeat(1024 - 60),
  quantity: 3,
});

interface Case {
  label: string;
  method: 'GET' | 'POST';
  url: string;
  /** The process that serves this case, whose CPU time is measured. */
  server: ChildProcess;
}

interface Measured {
  label: string;
  method: string;
  rps: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** CPU microseconds of the serving process per answered request, when /proc is readable. */
  cpuPerRequestUs: number | null;
}

/** Linux clock ticks per second for /proc/<pid>/stat times. */
const CLOCK_TICKS = 100;

/** CPU seconds (user + system) a process has used so far, or null off Linux. */
function cpuSeconds(pid: number | undefined): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Backend role: GET answers a small JSON, POST reads the whole body and answers with its size. */
function runBackend(port: number): void {
  const item = JSON.stringify({ id: 1, name: 'widget', price: '9.99' });
  createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/health/ready') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (req.method === 'POST') {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => (bytes += chunk.length));
      req.on('end', () => {
        const body = JSON.stringify({ ok: true, bytes });
        res.writeHead(201, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        });
        res.end(body);
      });
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(item),
    });
    res.end(item);
  }).listen(port, HOST);
}

/** fast-gateway role: round-robin over the backends, query string passed through as is. */
function runFastGateway(port: number, targets: string[]): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const gateway = require('fast-gateway') as (opts: unknown) => { start(port: number): unknown };
  let next = 0;
  gateway({
    routes: [
      {
        prefix: BASE_PATH,
        target: targets[0],
        disableQsOverwrite: true,
        proxyHandler: (
          req: unknown,
          res: unknown,
          url: string,
          proxy: (...args: unknown[]) => void,
          opts: { base?: string },
        ) => {
          opts.base = targets[next];
          next = (next + 1) % targets.length;
          proxy(req, res, url, opts);
        },
      },
    ],
  }).start(port);
}

function spawnRole(role: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [...process.execArgv, __filename, `--role=${role}`, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function measure(c: Case, seconds: number, connections: number): Promise<Measured> {
  const cpuBefore = cpuSeconds(c.server.pid);
  const result = await autocannon({
    url: c.url,
    method: c.method,
    connections,
    duration: seconds,
    headers: c.method === 'POST' ? { 'content-type': 'application/json' } : {},
    body: c.method === 'POST' ? PAYLOAD : undefined,
  });
  const cpuAfter = cpuSeconds(c.server.pid);
  const answered = result.requests.total;
  return {
    label: c.label,
    method: c.method,
    rps: result.requests.average,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    cpuPerRequestUs:
      cpuBefore === null || cpuAfter === null || answered === 0
        ? null
        : ((cpuAfter - cpuBefore) * 1e6) / answered,
  };
}

function formatRow(m: Measured): string {
  const cpu = m.cpuPerRequestUs === null ? 'n/a' : `${m.cpuPerRequestUs.toFixed(0)} us`;
  return (
    `${m.method.padEnd(5)} ${m.label.padEnd(13)} ${m.rps.toFixed(0).padStart(7)} req/s` +
    `  p99 ${String(m.p99).padStart(4)} ms  cpu/req ${cpu.padStart(6)}` +
    `  errors ${m.errors}  non-2xx ${m.non2xx}`
  );
}

async function main(): Promise<void> {
  const duration = option('duration', 10);
  const warmup = option('warmup', 2);
  const connections = option('connections', 50);
  const rounds = option('rounds', 1);
  const only = process.argv.find((a) => a.startsWith('--only='))?.split('=')[1];
  const methods = (
    process.argv.find((a) => a.startsWith('--methods='))?.split('=')[1] ?? 'GET,POST'
  ).split(',') as ('GET' | 'POST')[];
  const profile = process.argv.includes('--profile');
  if (!existsSync(GATEWAY_ENTRY)) {
    throw new Error(`${GATEWAY_ENTRY} is missing: run "npx nest build gateway" first`);
  }

  const dir = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
  const [backendA, backendB, gatewayPort, fastPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const targets = [backendA, backendB].map((p) => `http://${HOST}:${p}`);
  const configFile = join(dir, 'gateway.bench.yaml');
  writeFileSync(
    configFile,
    [
      'services:',
      '  - name: bench',
      `    basePath: ${BASE_PATH}`,
      '    targets:',
      ...targets.map((t) => `      - ${t}`),
      '    auth:',
      '      default: public',
      '',
    ].join('\n'),
  );

  const profileDir = join(ROOT, 'bench', 'profiles');
  if (profile) mkdirSync(profileDir, { recursive: true });
  const accessLog = openSync(join(dir, 'gateway.log'), 'a');
  const children: ChildProcess[] = [
    spawnRole('backend', [String(backendA)]),
    spawnRole('backend', [String(backendB)]),
    spawnRole('fast-gateway', [String(fastPort), ...targets]),
    spawn(
      process.execPath,
      [...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), GATEWAY_ENTRY],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          NODE_ENV: 'production',
          PORT: String(gatewayPort),
          HOST,
          GATEWAY_CONFIG: configFile,
          GATEWAY_ACCESS_LOG: 'true',
          LOG_LEVEL: 'info',
          // Production mode refuses to start without a signing secret (the route itself is public).
          JWT_SECRET: randomBytes(32).toString('hex'),
        },
        stdio: ['ignore', accessLog, 'inherit'],
      },
    ),
  ];

  try {
    await Promise.all([
      ...targets.map((t) => waitReady(`${t}/health/ready`)),
      waitReady(`http://${HOST}:${gatewayPort}/health/ready`),
      waitReady(`http://${HOST}:${fastPort}${BASE_PATH}/items`),
    ]);
    console.log(
      `autocannon: ${connections} connections, ${duration} s per case (${warmup} s warm-up), ` +
        `POST body ${Buffer.byteLength(PAYLOAD)} bytes, Node ${process.version}\n`,
    );

    const [backend, , fastGateway, gateway] = children;
    const runs: Measured[] = [];
    for (let round = 1; round <= rounds; round++) {
      if (rounds > 1) console.log(`round ${round} of ${rounds}`);
      for (const method of methods) {
        const cases: Case[] = [
          { label: 'direct', method, url: `${targets[0]}/items`, server: backend },
          {
            label: 'gateway',
            method,
            url: `http://${HOST}:${gatewayPort}${BASE_PATH}/items`,
            server: gateway,
          },
          {
            label: 'fast-gateway',
            method,
            url: `http://${HOST}:${fastPort}${BASE_PATH}/items`,
            server: fastGateway,
          },
        ];
        for (const c of cases.filter((x) => !only || x.label === only)) {
          if (warmup > 0) await measure(c, warmup, connections);
          const m = await measure(c, duration, connections);
          runs.push(m);
          console.log(formatRow(m));
        }
      }
    }

    const summary = (method: string, label: string): Measured => {
      const of = runs.filter((r) => r.method === method && r.label === label);
      const cpu = of.map((r) => r.cpuPerRequestUs).filter((v): v is number => v !== null);
      return {
        label,
        method,
        rps: median(of.map((r) => r.rps)),
        p99: median(of.map((r) => r.p99)),
        errors: of.reduce((n, r) => n + r.errors, 0),
        non2xx: of.reduce((n, r) => n + r.non2xx, 0),
        cpuPerRequestUs: cpu.length ? median(cpu) : null,
      };
    };
    if (only) return;
    if (rounds > 1) {
      console.log(`\nmedians of ${rounds} rounds`);
      for (const method of ['GET', 'POST']) {
        for (const label of ['direct', 'gateway', 'fast-gateway']) {
          console.log(formatRow(summary(method, label)));
        }
      }
    }
    console.log('');
    for (const method of ['GET', 'POST']) {
      const ours = summary(method, 'gateway');
      const peer = summary(method, 'fast-gateway');
      const direct = summary(method, 'direct');
      console.log(
        `${method.padEnd(5)} gateway/fast-gateway ${(ours.rps / peer.rps).toFixed(2)}x` +
          `   gateway/direct ${(ours.rps / direct.rps).toFixed(2)}x`,
      );
    }
  } finally {
    await Promise.all(children.map(stop));
    rmSync(dir, { recursive: true, force: true });
    if (profile) console.log(`\nCPU profile of the gateway: ${profileDir}`);
  }
}

const role = process.argv.find((a) => a.startsWith('--role='))?.split('=')[1];
const roleArgs = process.argv.slice(process.argv.findIndex((a) => a.startsWith('--role=')) + 1);
if (role === 'backend') {
  runBackend(Number(roleArgs[0]));
} else if (role === 'fast-gateway') {
  runFastGateway(Number(roleArgs[0]), roleArgs.slice(1));
} else {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
