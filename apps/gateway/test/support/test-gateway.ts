import { SecureListener, SERVER_CONFIG, ServerConfig } from '@app/common';
import type { INestApplication } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Test, TestingModuleBuilder } from '@nestjs/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { IncomingHttpHeaders, OutgoingHttpHeaders, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import { stringify } from 'yaml';
import { AuthService } from '../../src/auth/auth.service';
import { GatewayModule } from '../../src/gateway.module';
import { PROXY_RANDOM } from '../../src/proxy/proxy.tokens';
import type { GatewayConfig } from '../../src/routing/gateway-config';
import { hstsHeaders } from '../../src/routing/hsts';
import { GATEWAY_CONFIG } from '../../src/routing/routing.tokens';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON (`undefined` when it is not JSON). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- assertions read any JSON body
  json: any;
  ms: number;
}

export interface SendOptions {
  headers?: Record<string, string>;
  body?: string | Buffer | Readable;
}

/** Writes `config` to a temporary YAML file and returns its path (and a way to remove it). */
export function writeConfig(config: unknown): { file: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-e2e-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, typeof config === 'string' ? config : stringify(config));
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The real GatewayModule, in process, listening on an ephemeral port of 127.0.0.1, with its
 * config from a temporary file. Requests go through an undici pool so paths are sent as written.
 */
export class TestGateway {
  private app?: INestApplication;
  private pool?: Pool;
  private config?: { file: string; remove(): void };
  port = 0;
  /** The TLS listener, as the gateway starts it when TLS_CERT_FILE and TLS_KEY_FILE are set. */
  secure: SecureListener | null = null;

  constructor(
    private readonly routes: unknown,
    private readonly options: {
      random?: () => number;
      override?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
      /** Run the real authentication; otherwise every request passes it (proxy suites test forwarding). */
      enforceAuth?: boolean;
    } = {},
  ) {}

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The config file it was started with (a reload reads it again). */
  get configFile(): string {
    return this.config!.file;
  }

  async start(): Promise<this> {
    this.config = writeConfig(this.routes);
    process.env.GATEWAY_CONFIG = this.config.file;
    process.env.LOG_LEVEL = 'error';
    let builder = Test.createTestingModule({ imports: [GatewayModule] });
    if (this.options.random) {
      builder = builder.overrideProvider(PROXY_RANDOM).useValue(this.options.random);
    }
    if (!this.options.enforceAuth) {
      builder = builder.overrideProvider(AuthService).useValue({ authorize: () => ({ ok: true }) });
    }
    if (this.options.override) builder = this.options.override(builder);
    const moduleRef = await builder.compile();
    const app = moduleRef.createNestApplication({ logger: false });
    const server = app.get(ConfigService).getOrThrow<ServerConfig>(SERVER_CONFIG);
    if (server.tls !== null) {
      this.secure = new SecureListener(app, server.tls, {
        headersTimeoutMs: server.headersTimeoutMs,
        responseHeaders: hstsHeaders(app.get<GatewayConfig>(GATEWAY_CONFIG).tls),
      });
    }
    await app.listen(0, '127.0.0.1');
    await this.secure?.listen('127.0.0.1');
    this.app = app;
    this.port = (app.getHttpServer() as { address(): { port: number } }).address().port;
    this.pool = new Pool(this.origin, { connections: 64 });
    return this;
  }

  get<T>(token: new (...args: never[]) => T): T {
    return this.app!.get(token);
  }

  async send(method: string, path: string, options: SendOptions = {}): Promise<Reply> {
    const started = performance.now();
    const res = await this.pool!.request({
      method,
      path,
      headers: options.headers,
      body: options.body,
    });
    const text = await res.body.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return {
      status: res.statusCode,
      headers: res.headers,
      text,
      json,
      ms: performance.now() - started,
    };
  }

  /** Sends through node:http, which lets a test set any header (Connection, Keep-Alive, Host...). */
  sendWithNode(
    method: string,
    path: string,
    headers: OutgoingHttpHeaders,
    body?: string,
  ): Promise<Reply> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: this.port, method, path, headers, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              text,
              json,
              ms: performance.now() - started,
            });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Sends raw bytes on a fresh connection and resolves with the status code of the answer. */
  raw(request: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.port, '127.0.0.1');
      let data = '';
      socket.on('data', (chunk) => {
        data += chunk.toString('latin1');
        const match = /^HTTP\/1\.1 (\d{3})/.exec(data);
        if (match) {
          socket.destroy();
          resolve(Number(match[1]));
        }
      });
      socket.on('error', reject);
      socket.on('close', () => reject(new Error(`connection closed after: ${data}`)));
      socket.write(request, 'latin1');
    });
  }

  async metrics(): Promise<string> {
    return (await this.send('GET', '/metrics')).text;
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
    await this.secure?.close();
    (
      this.app?.getHttpServer() as { closeAllConnections?(): void } | undefined
    )?.closeAllConnections?.();
    await this.app?.close();
    this.config?.remove();
  }
}

/** Runs `total` calls of `task`, at most `concurrency` at a time, and resolves with their results in order. */
export async function inParallel<T>(
  total: number,
  concurrency: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array<T>(total);
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return results;
}

/** Polls `condition` every 25 ms until it holds, or fails after `timeoutMs`. */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The value of one sample in Prometheus text, e.g. `metric(text, 'gateway_requests_total{service="a",status="200"}')`. */
export function metric(text: string, sample: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}
