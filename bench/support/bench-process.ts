import { ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { AddressInfo, createServer as createNetServer } from 'node:net';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');
export const GATEWAY_ENTRY = join(
  ROOT,
  'dist',
  'apps',
  'gateway',
  'apps',
  'gateway',
  'src',
  'main.js',
);
export const HOST = '127.0.0.1';
/** The gateway's route to the bench's backends, and the prefix the other contenders strip. */
export const BASE_PATH = '/api/bench';
export const CONTENDERS_DIR = join(ROOT, 'bench', 'contenders');

/** Environment for child processes: no inherited require hooks, no shared Redis. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  delete env.REDIS_URL;
  delete env.TS_NODE_PROJECT;
  return env;
}

/** A .mjs program from bench/contenders, as plain `node file args`; resolves once it is ready. */
export async function startScript(
  file: string,
  args: string[],
  logFile?: number,
): Promise<ChildProcess> {
  const child = fork(join(CONTENDERS_DIR, file), args, {
    cwd: ROOT,
    execArgv: [],
    env: childEnv(),
    stdio: ['ignore', logFile ?? 'ignore', 'inherit', 'ipc'],
  });
  await new Promise<void>((done, fail) => {
    child.once('message', () => done());
    child.once('exit', (code) => fail(new Error(`${file} exited (${code}) before it was ready`)));
  });
  return child;
}

/**
 * The gateway config of the benches: one public service in front of `targets`, with `extra`
 * YAML lines for that service.
 */
export function gatewayConfigYaml(targets: string[], extra: string[] = []): string {
  return [
    'services:',
    '  - name: bench',
    `    basePath: ${BASE_PATH}`,
    '    targets:',
    ...targets.map((t) => `      - ${t}`),
    '    auth:',
    '      default: public',
    ...extra,
    '',
  ].join('\n');
}

/** The gateway's environment in the benches: access log and metrics on, a random 32-byte secret. */
export function gatewayEnv(port: number, configFile: string, nodeEnv: string): NodeJS.ProcessEnv {
  return childEnv({
    NODE_ENV: nodeEnv,
    PORT: String(port),
    HOST,
    GATEWAY_CONFIG: configFile,
    GATEWAY_ACCESS_LOG: 'true',
    LOG_LEVEL: 'info',
    JWT_SECRET: randomBytes(32).toString('hex'),
  });
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function option(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? Number(arg.split('=')[1]) : fallback;
}

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createNetServer();
    server.once('error', fail);
    server.listen(0, HOST, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    });
  });
}

export async function waitReady(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms`);
}

export function stop(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      done();
      return;
    }
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      done();
    });
    child.kill('SIGTERM');
  });
}
