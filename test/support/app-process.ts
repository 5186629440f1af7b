import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { portInUse } from './ports';

export const ROOT = resolve(__dirname, '..', '..');

export type AppName = 'gateway' | 'user-service' | 'product-service' | 'checkout-service';

export function builtEntry(app: AppName): string {
  const entry = join(ROOT, 'dist', 'apps', app, 'apps', app, 'src', 'main.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run "npm run build" first`);
  return entry;
}

/** One real app process from the build, with its output kept for failure reports. */
export class AppProcess {
  private child?: ChildProcess;
  private output = '';

  constructor(
    readonly app: AppName,
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The OS process id while it runs (to read its memory and open sockets from /proc). */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get logs(): string {
    return this.output;
  }

  async start(timeoutMs = 30_000): Promise<void> {
    // Another process answering on this port would pass the readiness check in this one's place.
    if (await portInUse(this.port)) {
      throw new Error(`${this.app}: port ${this.port} is already in use by another process`);
    }
    const child = spawn(process.execPath, [builtEntry(this.app)], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'warn', ...this.env, PORT: String(this.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    await this.waitReady(timeoutMs);
  }

  async waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.app}:${this.port} exited:\n${this.output}`);
      try {
        const res = await fetch(`${this.url}/health/ready`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${this.app}:${this.port} not ready within ${timeoutMs} ms:\n${this.output}`);
  }

  /**
   * A rolling update of this one replica: SIGTERM, wait for the exit, start again on the same port
   * and wait until ready. Resolves with the exit code of the stopped process.
   */
  async restart(timeoutMs = 30_000): Promise<number | null> {
    const code = await this.stop('SIGTERM');
    await this.start(timeoutMs);
    return code;
  }

  /** Stops the process with `signal` and resolves with its exit code once it is gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.child;
    if (!child || !this.running) return child?.exitCode ?? null;
    return new Promise((resolveExit) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolveExit(code);
      });
      child.kill(signal);
    });
  }
}
