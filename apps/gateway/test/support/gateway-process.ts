import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from 'node:child_process';
import { join } from 'node:path';
import { closedPort } from './test-upstream';

export const REPO_ROOT = join(__dirname, '..', '..', '..', '..');
/** main.ts through ts-node: the gateway as its own process, bootstrapped the way production does it. */
const NODE_ARGS = [
  '-r',
  'ts-node/register/transpile-only',
  '-r',
  'tsconfig-paths/register',
  join(REPO_ROOT, 'apps/gateway/src/main.ts'),
];

type Env = Record<string, string>;

/**
 * Runs the gateway to its end, for settings it must refuse at start. ts-node's start alone takes
 * 10 s on a loaded 2-core machine, hence the wide bound.
 */
export function runGatewayToExit(env: Env, timeoutMs = 60_000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, NODE_ARGS, {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'error', ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
  });
}

/** A gateway process on a port of its own, with its stdout and stderr collected. */
export class GatewayProcess {
  private collected = '';
  /** The exit code, once the process has ended (null when a signal ended it). */
  readonly exited: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => (this.collected += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.collected += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', resolve));
  }

  /**
   * Starts the gateway with `env` over the test's own environment (`PORT` is a free port unless
   * `env` names one) and waits until `/health/live` answers.
   */
  static async start(env: Env, startTimeoutMs = 45_000): Promise<GatewayProcess> {
    const port = env.PORT !== undefined ? Number(env.PORT) : await closedPort();
    const child = spawn(process.execPath, NODE_ARGS, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const gateway = new GatewayProcess(child, port);
    try {
      await gateway.untilLive(startTimeoutMs);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    return gateway;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Everything the process wrote so far, stdout and stderr interleaved. */
  get output(): string {
    return this.collected;
  }

  /** The JSON lines of the output (other lines left out). */
  jsonLines(): Record<string, unknown>[] {
    return this.collected
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** Sends `signal` and waits for the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }

  /** Ends the process at once, if it still runs; for `finally` blocks. */
  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }

  private get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private async untilLive(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.child.exitCode !== null) {
        throw new Error(`gateway exited with ${this.child.exitCode}:\n${this.collected}`);
      }
      try {
        if ((await fetch(`${this.origin}/health/live`)).ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`gateway did not start:\n${this.collected}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
