import { AppProcess } from '../../support/app-process';
import { System, SystemOptions } from '../../support/system';
import { FaultProxy } from './fault-proxy';

export type ServiceName = 'product-service' | 'user-service' | 'checkout-service';

export const SERVICES: readonly ServiceName[] = [
  'product-service',
  'user-service',
  'checkout-service',
];

/** Retries that leave a faulty replica quickly: three attempts, backoff of 20 ms up to 200 ms. */
export const QUICK_RETRY = { attempts: 3, backoffBaseMs: 20, backoffMaxMs: 200 } as const;

export const ADMIN = { email: 'admin@example.com', password: 'admin-password-123' };
export const USER = { email: 'user@example.com', password: 'user-password-123' };

/**
 * The whole system from the build with a `FaultProxy` between the gateway and every replica, so
 * that a test counts exactly what each replica was sent and can break any one of them.
 */
export class ProofSystem {
  readonly system: System;
  readonly proxies: Record<ServiceName, FaultProxy[]> = {
    'product-service': [],
    'user-service': [],
    'checkout-service': [],
  };

  constructor(options: Omit<SystemOptions, 'gatewayTarget'> = {}) {
    this.system = new System({
      ...options,
      gatewayTarget: async (service: string, replica: AppProcess) => {
        const proxy = await new FaultProxy(replica.port).start();
        this.proxies[service as ServiceName].push(proxy);
        return proxy.url;
      },
    });
  }

  get gateway(): AppProcess {
    return this.system.gateway;
  }

  get url(): string {
    return this.system.gateway.url;
  }

  get allProxies(): FaultProxy[] {
    return SERVICES.flatMap((s) => this.proxies[s]);
  }

  /** Requests the replicas were sent (health checks excluded), all services or one. */
  upstreamSeen(service?: ServiceName): number {
    const proxies = service ? this.proxies[service] : this.allProxies;
    return proxies.reduce((n, p) => n + p.forwarded, 0);
  }

  async start(): Promise<void> {
    await this.system.start();
  }

  async stop(): Promise<void> {
    await this.system.stop();
    await Promise.all(this.allProxies.map((p) => p.close()));
  }

  /** Signs in through the gateway and returns the bearer token. */
  async login(who: { email: string; password: string }): Promise<string> {
    const res = await fetch(`${this.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(who),
    });
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { accessToken: string }).accessToken;
  }
}
