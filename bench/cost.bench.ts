/**
 * What one proxied request costs, in CPU time or in instructions, rather than in req/s: figures
 * that hold on a shared machine. It starts the two backend replicas of `gateway.bench.ts`, the
 * gateway (the built dist, NODE_ENV=production, access log to a file, metrics, auth check) and
 * the bare node:http + undici handler, then for each contender and method sends `--warmup`
 * requests and then exactly `--requests` more from the load generator's own process, and prints
 * the contender's CPU (user + system, from /proc) or, with `--callgrind`, its instructions (Ir,
 * valgrind's callgrind counting from a zeroed counter) per request.
 *
 *   npx nest build gateway
 *   node -r ts-node/register/transpile-only bench/cost.bench.ts \
 *     [--requests=20000] [--warmup=5000] [--repeat=3] [--connections=50] [--methods=GET,POST] \
 *     [--only=gateway,bare] [--callgrind [--top=40]] [--strace] [--profile] [--gateway=<other build's main.js>]
 *
 * `--strace` prints the system calls per request of each measurement (strace -c attached to it;
 * its CPU figures are then strace's, not the contender's).
 * `--profile` starts the gateway and the bare handler with `--cpu-prof` and leaves the profiles in bench/profiles/.
 * `--top=N` (with `--callgrind`) starts them with `--perf-basic-prof` and prints, after each
 * measurement, the N functions with the most instructions of their own per request on the main
 * thread, the JavaScript ones by name.
 * CPU figures are the median of `--repeat` measurements. Under callgrind everything runs some 50
 * times slower: use a few thousand requests, a longer warm-up (uninstrumented) and few connections
 * (`--requests=1500 --warmup=20000 --connections=10`); its dumps (one per measurement) stay in bench/profiles/ for
 * `callgrind_annotate`.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  BASE_PATH,
  childEnv,
  CONTENDERS_DIR,
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
import { topFunctions } from './support/callgrind-top';
import { ORDER } from './support/payloads';
import { treeCpuSeconds } from './support/process-cpu';

interface LoadResult {
  requests: number;
  errors: number;
  non2xx: number;
  error?: string;
}

interface Contender {
  name: string;
  process: ChildProcess;
  url: string;
  /** Under callgrind: where its dumps go. */
  callgrindOut?: string;
}

function send(
  load: ChildProcess,
  url: string,
  method: string,
  amount: number,
  connections: number,
) {
  return new Promise<LoadResult>((done, fail) => {
    load.once('message', (r: LoadResult) => (r.error ? fail(new Error(r.error)) : done(r)));
    load.send({
      url,
      method,
      headers: method === 'POST' ? { 'content-type': 'application/json' } : {},
      body: method === 'POST' ? ORDER : undefined,
      connections,
      amount,
    });
  });
}

/**
 * valgrind names its control pipes after the `HOST` variable, which the gateway's environment
 * sets: every contender and `callgrind_control` see the same one.
 */
function control(...args: string[]): void {
  execFileSync('callgrind_control', args, { stdio: 'ignore', env: { ...process.env, HOST } });
}

/**
 * Attaches `strace -c` to every thread of `pid`; the function returned detaches it and formats
 * the system calls made since, per request.
 */
async function traceSyscalls(
  pid: string,
  out: string,
): Promise<(requests: number) => Promise<string>> {
  const tracer = spawn('strace', ['-f', '-c', '-qq', '-o', out, '-p', pid], { stdio: 'ignore' });
  // strace reports nothing when it is attached; give it a moment to reach every thread.
  await new Promise((r) => setTimeout(r, 500));
  return async (requests) => {
    const exited = new Promise((r) => tracer.once('exit', r));
    tracer.kill('SIGINT');
    await exited;
    const rows = readFileSync(out, 'utf8')
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f.length >= 5 && /^\d/.test(f[3]) && f[f.length - 1] !== 'total');
    return rows.map((f) => `${f[f.length - 1]} ${(Number(f[3]) / requests).toFixed(2)}`).join(', ');
  };
}

/** What the gateway's log says of failed requests: the count of each status, and its first other line. */
function failures(log: string): string {
  const statuses = new Map<string, number>();
  let other = '';
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const status = /"status":(\d+)/.exec(line)?.[1];
    if (status !== undefined && !status.startsWith('2'))
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    else if (status === undefined && other === '' && line.includes('"level":"')) other = line;
  }
  return `${JSON.stringify(Object.fromEntries(statuses))} ${other.slice(0, 300)}`;
}

/**
 * Instructions of the newest callgrind dump of a process (`callgrind_control -d` writes
 * `<out>.<n>-<thread>`): of every thread, and of the main thread alone, which leaves out V8's
 * background compilation and GC helpers, the noisiest part.
 */
function lastDumpIr(out: string): { all: number; main: number; mainFile: string } {
  const dir = dirname(out);
  const prefix = `${out.slice(dir.length + 1)}.`;
  const dumps = readdirSync(dir).filter((f) => f.startsWith(prefix));
  const number = (f: string) => Number(f.slice(prefix.length).split('-')[0]);
  const last = Math.max(...dumps.map(number));
  let all = 0;
  let main = 0;
  let mainFile = '';
  for (const file of dumps.filter((f) => number(f) === last)) {
    const totals = /^(?:totals|summary): (\d+)/m.exec(readFileSync(join(dir, file), 'utf8'));
    if (totals === null) throw new Error(`no totals in callgrind dump ${file}`);
    all += Number(totals[1]);
    if (file.endsWith('-01')) {
      main = Number(totals[1]);
      mainFile = join(dir, file);
    }
  }
  return { all, main, mainFile };
}

async function main(): Promise<void> {
  const requests = option('requests', 20_000);
  const warmup = option('warmup', 5_000);
  const repeat = option('repeat', 3);
  const connections = option('connections', 50);
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const methods = arg('methods')?.split(',') ?? ['GET', 'POST'];
  const only = arg('only')?.split(',');
  const callgrind = process.argv.includes('--callgrind');
  const straced = process.argv.includes('--strace');
  const gatewayEntry = resolve(arg('gateway') ?? GATEWAY_ENTRY);
  const top = callgrind ? option('top', 0) : 0;
  const profile = [
    ...(process.argv.includes('--profile')
      ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'bench', 'profiles')}`]
      : []),
    // Node writes the map to /tmp/perf-<pid>.map, under valgrind the contender's own pid.
    ...(top > 0 ? ['--perf-basic-prof'] : []),
  ];

  const dir = mkdtempSync(join(tmpdir(), 'gateway-cost-'));
  const children: ChildProcess[] = [];
  const contenders: Contender[] = [];
  try {
    const ports = [await freePort(), await freePort()];
    const targets = ports.map((p) => `http://${HOST}:${p}`);
    for (const p of ports) children.push(await startScript('backend.mjs', [String(p)]));
    const load = await startScript('load.mjs', []);
    children.push(load);
    // Under callgrind a contender only counts once it is zeroed: start-up runs uninstrumented.
    const wrap = (name: string, argv: string[]): { argv: string[]; out?: string } => {
      if (!callgrind) return { argv };
      const out = join(ROOT, 'bench', 'profiles', `${name}.${process.pid}.callgrind`);
      mkdirSync(dirname(out), { recursive: true });
      return {
        argv: [
          'valgrind',
          '--tool=callgrind',
          '--instr-atstart=no',
          '--separate-threads=yes',
          `--callgrind-out-file=${out}`,
          ...argv,
        ],
        out,
      };
    };

    if (!only || only.includes('gateway')) {
      const config = join(dir, 'gateway.yaml');
      writeFileSync(
        config,
        gatewayConfigYaml(
          targets,
          // Under valgrind the gateway runs some 50 times slower than its timeouts expect.
          callgrind
            ? [
                '    timeouts:',
                '      connectMs: 60000',
                '      perTryMs: 600000',
                '    passiveHealth:',
                '      failures: 1000',
                '    activeHealth:',
                '      enabled: false',
              ]
            : [],
        ),
      );
      const port = await freePort();
      const { argv, out } = wrap('gateway', [process.execPath, ...profile, gatewayEntry]);
      const child = spawn(argv[0], argv.slice(1), {
        cwd: ROOT,
        env: gatewayEnv(port, config, 'production'),
        stdio: ['ignore', openSync(join(dir, 'gateway.log'), 'a'), 'inherit'],
      });
      children.push(child);
      contenders.push({
        name: 'gateway',
        process: child,
        url: `http://${HOST}:${port}`,
        callgrindOut: out,
      });
    }
    if (!only || only.includes('bare')) {
      const port = await freePort();
      const { argv, out } = wrap('bare', [
        process.execPath,
        ...profile,
        join(CONTENDERS_DIR, 'bare-proxy.mjs'),
        String(port),
        BASE_PATH,
        ...targets,
      ]);
      const child = spawn(argv[0], argv.slice(1), {
        cwd: ROOT,
        env: childEnv({ HOST }),
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(child);
      contenders.push({
        name: 'bare',
        process: child,
        url: `http://${HOST}:${port}`,
        callgrindOut: out,
      });
    }
    await Promise.all(
      contenders.map((c) =>
        waitReady(
          c.name === 'gateway' ? `${c.url}/health/ready` : `${c.url}${BASE_PATH}/`,
          600_000,
        ),
      ),
    );

    console.log(
      `${requests} requests per measurement after ${warmup} warm-up, ${connections} connections, ` +
        `${callgrind ? 'callgrind Ir' : `CPU, median of ${repeat}`}; Node ${process.version}; ` +
        `load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
    );
    for (const method of methods) {
      for (const c of contenders) {
        const url = `${c.url}${BASE_PATH}/items/1042`;
        const pid = String(c.process.pid);
        // The warm-up runs uninstrumented (some 5 times faster than counted), long enough for the JIT.
        await send(load, url, method, warmup, connections);
        if (callgrind) control('-i', 'on', pid);
        const figures: number[] = [];
        const mainThread: number[] = [];
        for (let i = 0; i < (callgrind ? 1 : repeat); i++) {
          if (callgrind) control('-z', pid);
          const tracer = straced ? await traceSyscalls(pid, join(dir, `${c.name}.strace`)) : null;
          const before = treeCpuSeconds(c.process.pid) ?? NaN;
          const r = await send(load, url, method, requests, connections);
          const after = treeCpuSeconds(c.process.pid) ?? NaN;
          if (tracer !== null) console.log(`${method} ${c.name}: ${await tracer(r.requests)}`);
          const failed = r.errors + r.non2xx;
          // Under valgrind a keep-alive race with a backend now and then costs a request a 502.
          if (failed > (callgrind ? r.requests / 100 : 0)) {
            throw new Error(
              `${c.name} ${method}: ${r.errors} errors, ${r.non2xx} non-2xx answers` +
                (c.name === 'gateway'
                  ? `; the gateway's log: ${failures(join(dir, 'gateway.log'))}`
                  : ''),
            );
          }
          if (callgrind) {
            control('-d', pid);
            const ir = lastDumpIr(c.callgrindOut!);
            figures.push(ir.all / r.requests);
            mainThread.push(ir.main / r.requests);
            if (top > 0) {
              const perfMap = `/tmp/perf-${pid}.map`;
              console.log(`${method} ${c.name}, main thread, Ir/req of the function itself:`);
              for (const row of topFunctions(ir.mainFile, perfMap, r.requests, top))
                console.log(row);
            }
          } else {
            figures.push(((after - before) * 1e6) / r.requests);
          }
        }
        if (callgrind) control('-i', 'off', pid);
        const unit = callgrind ? 'Ir/req' : 'cpu us/req';
        console.log(
          `${method.padEnd(5)} ${c.name.padEnd(8)} ${median(figures)
            .toFixed(callgrind ? 0 : 1)
            .padStart(9)} ${unit}` +
            (figures.length > 1 ? `  (${figures.map((f) => f.toFixed(1)).join(', ')})` : '') +
            (callgrind ? `, main thread ${mainThread[0].toFixed(0)}` : ''),
        );
      }
    }
  } finally {
    await Promise.all(children.map(stop));
    rmSync(dir, { recursive: true, force: true });
    for (const c of contenders) rmSync(`/tmp/perf-${c.process.pid}.map`, { force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
