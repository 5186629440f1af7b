import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { AppProcess } from './app-process';
import { freePort } from './ports';

export interface SystemOptions {
  /** Extra environment for every process (e.g. REDIS_URL). */
  env?: Record<string, string>;
  /** Extra environment for the gateway only. */
  gatewayEnv?: Record<string, string>;
  /** The address the gateway is given for a replica (e.g. a proxy in front of it); the replica's own by default. */
  gatewayTarget?: (service: string, replica: AppProcess) => string | Promise<string>;
  /** How long each process may take to become ready (default 30 s; longer on a loaded machine). */
  startTimeoutMs?: number;
  /** The gateway config's `defaults:` section (timeouts, retry, health, CORS...). */
  gatewayDefaults?: Record<string, unknown>;
}

/**
 * The whole system as real processes from the build: two product and two user replicas sharing their
 * SQLite files, one checkout service and the gateway in front, all on free ports with temporary data.
 */
export class System {
  readonly dataDir = mkdtempSync(join(tmpdir(), 'system-e2e-'));
  products: AppProcess[] = [];
  users: AppProcess[] = [];
  checkout!: AppProcess;
  gateway!: AppProcess;

  constructor(private readonly options: SystemOptions = {}) {}

  get all(): AppProcess[] {
    return [...this.products, ...this.users, this.checkout, this.gateway].filter(Boolean);
  }

  async start(): Promise<void> {
    const env = { NODE_ENV: 'test', ...this.options.env };
    const db = (file: string) => ({ ...env, DATABASE_PATH: join(this.dataDir, file) });
    this.products = [
      new AppProcess('product-service', await freePort(), db('products.db')),
      new AppProcess('product-service', await freePort(), db('products.db')),
    ];
    this.users = [
      new AppProcess('user-service', await freePort(), db('users.db')),
      new AppProcess('user-service', await freePort(), db('users.db')),
    ];
    this.checkout = new AppProcess('checkout-service', await freePort(), {
      ...db('orders.db'),
      PRODUCT_SERVICE_URLS: this.products.map((p) => p.url).join(','),
      USER_SERVICE_URLS: this.users.map((u) => u.url).join(','),
    });
    await Promise.all(
      [...this.products, ...this.users, this.checkout].map((p) =>
        p.start(this.options.startTimeoutMs),
      ),
    );
    const configPath = join(this.dataDir, 'gateway.yaml');
    writeFileSync(configPath, await this.gatewayConfig());
    // Its port is taken only now: whatever gatewayConfig() started listens on a port the OS chose.
    this.gateway = new AppProcess('gateway', await freePort(), {
      ...env,
      GATEWAY_CONFIG: configPath,
      ...this.options.gatewayEnv,
    });
    await this.gateway.start(this.options.startTimeoutMs);
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map((p) => p.stop()));
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  private async gatewayConfig(): Promise<string> {
    const lines: Record<string, string> = {};
    for (const [service, replicas] of [
      ['product-service', this.products],
      ['user-service', this.users],
      ['checkout-service', [this.checkout]],
    ] as const) {
      const urls = await Promise.all(
        replicas.map(async (p) => (await this.options.gatewayTarget?.(service, p)) ?? p.url),
      );
      lines[service] = urls.map((url) => `      - ${url}`).join('\n');
    }
    const defaults = this.options.gatewayDefaults
      ? stringify({ defaults: this.options.gatewayDefaults })
      : '';
    return `${defaults}services:
  - name: product-service
    basePath: /api/products
    targets:
${lines['product-service']}
    auth:
      default: role:admin
      rules:
        - methods: [GET, HEAD]
          policy: public
  - name: user-service
    basePath: /api/users
    targets:
${lines['user-service']}
    auth:
      default: authenticated
      rules:
        - methods: [POST]
          path: /
          policy: public
  - name: checkout-service
    basePath: /api/checkout
    targets:
${lines['checkout-service']}
    idempotencyKeys: true
    auth:
      default: authenticated
`;
  }
}
