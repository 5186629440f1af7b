/**
 * Gateway benchmark. In one run, with the same two backend replicas (a 374-byte JSON product on
 * GET, a 1 KB JSON order on POST) and the same load, it measures every contender in a process of
 * its own, started the way its users start it (plain `node`, no require hooks):
 *
 *   gateway       the built dist, NODE_ENV=production, access log to a file, metrics, auth checks
 *   gateway-dev   the same in NODE_ENV=development (skip with --no-dev)
 *   fast-gateway  fast-gateway 5.0.1, round-robin through its documented `proxyHandler`
 *   bare          node:http + one undici Pool per replica, bodies piped: the floor for Node
 *   nginx         one worker, upstream keepalive, access log to a file (when nginx is installed)
 *
 * The load generator (autocannon) runs in its own process too. Every case is measured in
 * `--rounds` short interleaved rounds (the contender order rotates and the method order flips each
 * round), after a `--warmup` in the first round and a `--settle` load (new connections) in the
 * others; ratios are taken within a round and their median reported, so background load on a
 * shared machine hits both sides of a ratio alike. `cpu/req` is the CPU time (user + system, all
 * threads, plus child processes: nginx's worker) of the contender's process per answered request.
 *
 *   npm run bench            # builds the gateway, then runs this
 *   node -r ts-node/register/transpile-only bench/gateway.bench.ts \
 *     [--rounds=6] [--duration=2] [--warmup=2] [--settle=0.5] [--connections=50] [--no-dev] \
 *     [--only=gateway,bare] [--methods=GET] [--profile] [--baseline=<other build's main.js>]
 *
 * `--profile` starts the gateway with `--cpu-prof` and leaves the profile in bench/profiles/.
 * `--baseline` adds another build of the gateway as `gateway-baseline`, measured in the same rounds
 * as this one, so that a change is compared before and after under the same background load.
 * Everything listens on 127.0.0.1; every process is a child of this one and is stopped at the end.
 */
import { ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  BASE_PATH,
  freePort,
  GATEWAY_ENTRY,
  gatewayConfigYaml,
  gatewayEnv,
  HOST,
  median,
  option,
  ROOT,
  startScript,
  stop,
  waitReady,
} from './support/bench-process';
import { nginxBinary, nginxInstance } from './support/nginx';
import { ORDER } from './support/payloads';
import { treeCpuSeconds } from './support/process-cpu';

const METHODS = ['GET', 'POST'] as const;
type Method = (typeof METHODS)[number];

interface Contender {
  name: string;
  process: ChildProcess;
  url: string;
}

interface Sample {
  contender: string;
  method: Method;
  round: number;
  rps: number;
  p99: number;
  cpuUs: number | null;
  errors: number;
  non2xx: number;
}

interface LoadResult {
  requests: number;
  seconds: number;
  p99: number;
  errors: number;
  non2xx: number;
  error?: string;
}

function runLoad(load: ChildProcess, job: object): Promise<LoadResult> {
  return new Promise((done, fail) => {
    load.once('message', (result: LoadResult) =>
      result.error ? fail(new Error(result.error)) : done(result),
    );
    load.send(job);
  });
}

async function measure(
  load: ChildProcess,
  c: Contender,
  method: Method,
  seconds: number,
  connections: number,
): Promise<Omit<Sample, 'round'>> {
  const job = {
    url: `${c.url}${BASE_PATH}/items/1042`,
    method,
    headers: method === 'POST' ? { 'content-type': 'application/json' } : {},
    body: method === 'POST' ? ORDER : undefined,
    connections,
    seconds,
  };
  const cpuBefore = treeCpuSeconds(c.process.pid);
  const r = await runLoad(load, job);
  const cpuAfter = treeCpuSeconds(c.process.pid);
  return {
    contender: c.name,
    method,
    rps: r.requests / r.seconds,
    p99: r.p99,
    errors: r.errors,
    non2xx: r.non2xx,
    cpuUs:
      cpuBefore === null || cpuAfter === null || r.requests === 0
        ? null
        : ((cpuAfter - cpuBefore) * 1e6) / r.requests,
  };
}

/** Each contender must answer what the backend answers before its figures mean anything. */
async function checkAnswers(c: Contender, direct: string): Promise<void> {
  const path = `${BASE_PATH}/items/1042`;
  for (const method of METHODS) {
    const init: RequestInit =
      method === 'POST'
        ? { method, body: ORDER, headers: { 'content-type': 'application/json' } }
        : { method };
    const [via, expected] = await Promise.all(
      [`${c.url}${path}`, `${direct}/items/1042`].map(async (url) => {
        const res = await fetch(url, init);
        return `${res.status} ${await res.text()}`;
      }),
    );
    if (via !== expected) {
      throw new Error(`${c.name} ${method} answered "${via}", the backend "${expected}"`);
    }
  }
}

/** The 1-minute load average, to show how busy the machine was around the run. */
function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  } catch {
    return 'n/a';
  }
}

/** Median over rounds of `metric(contender) / metric(reference)`, both taken in the same round. */
function pairedRatio(
  samples: Sample[],
  name: string,
  method: Method,
  reference: string,
  metric: (s: Sample) => number | null,
): string {
  const ratios: number[] = [];
  for (const s of samples.filter((x) => x.contender === name && x.method === method)) {
    const ref = samples.find(
      (x) => x.contender === reference && x.method === method && x.round === s.round,
    );
    const [a, b] = [metric(s), ref && metric(ref)];
    if (a !== null && b) ratios.push(a / b);
  }
  return ratios.length ? `${median(ratios).toFixed(2)}x` : '-';
}

function report(samples: Sample[], names: string[], rounds: number): void {
  console.log(`
medians of ${rounds} round(s); ratios are medians of per-round ratios
`);
  console.log(
    'method  contender      req/s   p99 ms  cpu us/req  req/s x fast-gw  x bare' +
      '  cpu x fast-gw  x bare  errors/non-2xx',
  );
  const rps = (s: Sample) => s.rps;
  const cpu = (s: Sample) => s.cpuUs;
  for (const method of METHODS) {
    for (const name of names) {
      const of = samples.filter((s) => s.contender === name && s.method === method);
      if (!of.length) continue;
      const cpus = of.map(cpu).filter((v): v is number => v !== null);
      console.log(
        [
          method.padEnd(6),
          name.padEnd(12),
          median(of.map(rps)).toFixed(0).padStart(7),
          String(median(of.map((s) => s.p99))).padStart(8),
          (cpus.length ? median(cpus).toFixed(0) : 'n/a').padStart(11),
          pairedRatio(samples, name, method, 'fast-gateway', rps).padStart(16),
          pairedRatio(samples, name, method, 'bare', rps).padStart(7),
          pairedRatio(samples, name, method, 'fast-gateway', cpu).padStart(14),
          pairedRatio(samples, name, method, 'bare', cpu).padStart(7),
          `  ${of.reduce((n, s) => n + s.errors, 0)}/${of.reduce((n, s) => n + s.non2xx, 0)}`,
        ].join(' '),
      );
    }
  }
}

async function main(): Promise<void> {
  const duration = option('duration', 2);
  const warmup = option('warmup', 2);
  const settle = option('settle', 0.5);
  const rounds = option('rounds', 6);
  const connections = option('connections', 50);
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const only = arg('only')?.split(',');
  const methods = (arg('methods')?.split(',') ?? METHODS) as Method[];
  const profile = process.argv.includes('--profile');
  const wanted = (name: string) => !only || only.includes(name);
  if (!existsSync(GATEWAY_ENTRY)) {
    throw new Error(`${GATEWAY_ENTRY} is missing: run "npx nest build gateway" first`);
  }

  const dir = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
  const children: ChildProcess[] = [];
  const contenders: Contender[] = [];
  // Ctrl-C or a kill of this process still stops every child and removes the temporary directory.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void Promise.all(children.map(stop)).finally(() => {
        rmSync(dir, { recursive: true, force: true });
        process.exit(130);
      });
    });
  }
  try {
    const ports = { a: await freePort(), b: await freePort() };
    const targets = [ports.a, ports.b].map((p) => `http://${HOST}:${p}`);
    children.push(
      ...(await Promise.all(
        [ports.a, ports.b].map((p) => startScript('backend.mjs', [String(p)])),
      )),
    );
    const load = await startScript('load.mjs', []);
    children.push(load);

    const configFile = join(dir, 'gateway.bench.yaml');
    writeFileSync(configFile, gatewayConfigYaml(targets));
    const profileDir = join(ROOT, 'bench', 'profiles');
    if (profile) mkdirSync(profileDir, { recursive: true });
    const gateway = async (name: string, nodeEnv: string, entry = GATEWAY_ENTRY): Promise<void> => {
      if (!wanted(name)) return;
      const port = await freePort();
      const child = spawn(
        process.execPath,
        [...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), entry],
        {
          cwd: ROOT,
          env: gatewayEnv(port, configFile, nodeEnv),
          stdio: ['ignore', openSync(join(dir, `${name}.log`), 'a'), 'inherit'],
        },
      );
      children.push(child);
      contenders.push({ name, process: child, url: `http://${HOST}:${port}` });
    };
    await gateway('gateway', 'production');
    if (!process.argv.includes('--no-dev')) await gateway('gateway-dev', 'development');
    // Another build of the gateway (an earlier commit, say) measured in the same rounds.
    const baseline = arg('baseline');
    if (baseline !== undefined) await gateway('gateway-baseline', 'production', resolve(baseline));
    for (const [name, file] of [
      ['fast-gateway', 'fast-gateway.mjs'],
      ['bare', 'bare-proxy.mjs'],
    ]) {
      if (!wanted(name)) continue;
      const port = await freePort();
      const child = await startScript(file, [String(port), BASE_PATH, ...targets]);
      children.push(child);
      contenders.push({ name, process: child, url: `http://${HOST}:${port}` });
    }
    const nginx = nginxBinary();
    if (nginx && wanted('nginx')) {
      const port = await freePort();
      const [binary, ...args] = nginxInstance(nginx, join(dir, 'nginx'), port, BASE_PATH, targets);
      const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(child);
      contenders.push({ name: 'nginx', process: child, url: `http://${HOST}:${port}` });
    }
    await Promise.all(
      contenders.map((c) =>
        waitReady(c.name.startsWith('gateway') ? `${c.url}/health/ready` : `${c.url}${BASE_PATH}/`),
      ),
    );
    for (const c of contenders) await checkAnswers(c, targets[0]);

    console.log(
      `${contenders.map((c) => c.name).join(', ')}${nginx ? '' : ' (nginx not installed)'}\n` +
        `autocannon in its own process: ${connections} connections, ${rounds} interleaved ` +
        `round(s) of ${duration} s per case, after ${warmup} s warm-up in the first round and ` +
        `${settle} s in the others; GET answer 374 B, POST body ${Buffer.byteLength(ORDER)} B; ` +
        `Node ${process.version}; load average ${loadAverage()}`,
    );
    const samples: Sample[] = [];
    for (let round = 0; round < rounds; round++) {
      const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]);
      const methodOrder = round % 2 ? [...methods].reverse() : methods;
      for (const method of methodOrder) {
        for (const c of order) {
          const pause = round === 0 ? warmup : settle;
          if (pause > 0) await measure(load, c, method, pause, connections);
          const s = { ...(await measure(load, c, method, duration, connections)), round };
          samples.push(s);
          console.log(
            `round ${round + 1} ${method.padEnd(4)} ${c.name.padEnd(12)} ` +
              `${s.rps.toFixed(0).padStart(6)} req/s  p99 ${s.p99} ms  ` +
              `cpu ${s.cpuUs === null ? 'n/a' : s.cpuUs.toFixed(0)} us/req`,
          );
        }
      }
    }
    report(
      samples,
      contenders.map((c) => c.name),
      rounds,
    );
    console.log(`load average at the end: ${loadAverage()}`);
    const logLines = (file: string) =>
      existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;
    console.log(
      `\naccess log lines written: ` +
        contenders
          .filter((c) => c.name.startsWith('gateway') || c.name === 'nginx')
          .map(
            (c) =>
              `${c.name} ${logLines(c.name === 'nginx' ? join(dir, 'nginx', 'access.log') : join(dir, `${c.name}.log`))}`,
          )
          .join(', '),
    );
    if (samples.some((s) => s.errors > 0 || s.non2xx > 0)) {
      throw new Error('some requests failed: the figures above are not comparable');
    }
  } finally {
    await Promise.all(children.map(stop));
    rmSync(dir, { recursive: true, force: true });
    if (profile) console.log(`\nCPU profile of the gateway: ${join(ROOT, 'bench', 'profiles')}`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
