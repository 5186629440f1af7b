import { ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..', '..', '..');
const MAIN = join(ROOT, 'apps', 'user-service', 'src', 'main.ts');

/**
 * One user-service process run from its TypeScript source (no build needed), as a replica runs:
 * its own connection to the database, its own start-up. Output is kept for assertions and reports.
 */
export class UserServiceProcess {
  private readonly child: ChildProcess;
  private output = '';
  /** Resolves with the exit code (or 1 when killed by a signal) once the process is gone. */
  readonly exited: Promise<number>;

  constructor(
    readonly port: number,
    env: Record<string, string | undefined>,
  ) {
    this.child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', MAIN],
      {
        cwd: ROOT,
        env: { ...process.env, LOG_LEVEL: 'info', ...env, PORT: String(port), HOST: '127.0.0.1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const keep = (chunk: Buffer) => (this.output += chunk.toString());
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolveExit) =>
      this.child.once('exit', (code) => resolveExit(code ?? 1)),
    );
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Every JSON line the process has written so far. */
  get logs(): Array<Record<string, unknown>> {
    return this.output.split('\n').flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  get text(): string {
    return this.output;
  }

  /** Waits until `/health/ready` answers 200; fails at once if the process exits first. */
  async ready(timeoutMs: number): Promise<void> {
    let exitCode: number | undefined;
    void this.exited.then((code) => (exitCode = code));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (exitCode !== undefined) {
        throw new Error(`user-service exited with ${exitCode}:\n${this.output}`);
      }
      const ok = await fetch(`${this.url}/health/ready`).then(
        (res) => res.ok,
        () => false,
      );
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`user-service not ready within ${timeoutMs} ms:\n${this.output}`);
  }

  /** SIGTERM, then the exit code; SIGKILL if the drain hangs. */
  async stop(): Promise<number> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    this.child.kill('SIGTERM');
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}
