import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'undici';
import { GatewayMetrics, ServiceMetrics } from '../metrics/gateway-metrics';
import type { GatewayConfig, ServiceConfig } from '../routing/gateway-config';
import { GATEWAY_CONFIG } from '../routing/routing.tokens';
import { CorsPolicy } from './cors-policy';
import { BACKOFF_RANDOM } from './proxy.tokens';
import { RetryPolicy } from './retry-policy';
import { RoundRobinBalancer } from './round-robin-balancer';
import { TargetHealth } from './target-health';
import { UpstreamTarget } from './upstream-target';

/** Everything the proxy path needs about one service, built once at start. */
export class ServiceUpstreams {
  readonly balancer: RoundRobinBalancer;

  constructor(
    readonly config: ServiceConfig,
    readonly targets: readonly UpstreamTarget[],
    readonly retry: RetryPolicy,
    readonly cors: CorsPolicy | null,
    readonly metrics: ServiceMetrics,
  ) {
    this.balancer = new RoundRobinBalancer(targets);
  }

  get name(): string {
    return this.config.name;
  }
}

/** The services of the config with their targets, one keep-alive undici Pool per target. */
@Injectable()
export class UpstreamRegistry implements OnApplicationShutdown {
  /** Indexed like `GatewayConfig.services` (`ServiceConfig.index`). */
  readonly services: readonly ServiceUpstreams[];

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    metrics: GatewayMetrics,
    @Inject(BACKOFF_RANDOM) random: () => number,
  ) {
    this.services = config.services.map((service) => {
      const targets = service.targets.map((origin, index) => {
        const pool = new Pool(origin, {
          connections: service.connectionsPerTarget,
          pipelining: 1,
          connect: { timeout: Math.min(service.timeouts.connectMs, service.timeouts.perTryMs) },
          // The per-try timer of the exchange is the authority; these only bound a stuck socket.
          headersTimeout: service.timeouts.perTryMs + 1_000,
          bodyTimeout: service.timeouts.perTryMs,
        });
        const target = new UpstreamTarget(
          service.name,
          index,
          origin,
          pool,
          new TargetHealth(service.passiveHealth),
        );
        metrics.trackTargetHealth(service.name, origin, () => target.health.healthy);
        return target;
      });
      return new ServiceUpstreams(
        service,
        targets,
        new RetryPolicy(service.retry, random),
        service.cors ? new CorsPolicy(service.cors) : null,
        metrics.forService(service.name),
      );
    });
  }

  get(index: number): ServiceUpstreams {
    return this.services[index];
  }

  async onApplicationShutdown(): Promise<void> {
    // The HTTP server has closed by now, so nothing is in flight that a pool still owes.
    await Promise.all(
      this.services.flatMap((s) => s.targets.map((t) => t.pool.destroy().catch(() => undefined))),
    );
  }
}
