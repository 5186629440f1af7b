import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Dispatcher, Pool } from 'undici';
import { resolvableHost } from '../routing/target-names';
import { GatewayMetrics, ServiceMetrics } from '../metrics/gateway-metrics';
import type { GatewayConfig, ServiceConfig } from '../routing/gateway-config';
import { GATEWAY_CONFIG } from '../routing/routing.tokens';
import { CorsPolicy } from './cors-policy';
import { PROXY_RANDOM } from './proxy.tokens';
import { RetryPolicy } from './retry-policy';
import { Balancer } from './balancer';
import { LeastRequestBalancer } from './least-request-balancer';
import { RoundRobinBalancer } from './round-robin-balancer';
import { TargetHealth } from './target-health';
import { UpstreamTarget } from './upstream-target';
import { WeightedBalancer } from './weighted-balancer';

/** Everything the proxy path needs about one service; its target set may change while it runs. */
export class ServiceUpstreams {
  readonly balancer: Balancer;

  constructor(
    readonly config: ServiceConfig,
    targets: readonly UpstreamTarget[],
    readonly retry: RetryPolicy,
    readonly cors: CorsPolicy | null,
    readonly metrics: ServiceMetrics,
    random: () => number = Math.random,
  ) {
    this.balancer = createBalancer(config.balancer, Object.freeze([...targets]), random);
  }

  get name(): string {
    return this.config.name;
  }

  /** The service's targets now: an immutable snapshot, replaced as a whole when the set changes. */
  get targets(): readonly UpstreamTarget[] {
    return this.balancer.targets;
  }
}

function createBalancer(
  kind: ServiceConfig['balancer'],
  targets: readonly UpstreamTarget[],
  random: () => number,
): Balancer {
  switch (kind) {
    case 'round-robin':
      return new RoundRobinBalancer(targets);
    case 'least-request':
      return new LeastRequestBalancer(targets, random);
    case 'weighted':
      return new WeightedBalancer(targets);
  }
}

/** A target wanted in a service's set: its origin, and the configured target it comes from. */
export interface WantedTarget {
  readonly origin: string;
  readonly source: string;
}

/** What one `UpstreamRegistry.setTargets` changed. */
export interface TargetSetChange {
  readonly service: ServiceUpstreams;
  readonly added: readonly UpstreamTarget[];
  readonly removed: readonly UpstreamTarget[];
}

/**
 * The services of the config with their targets, one keep-alive undici Pool per target. A target
 * whose host is a name, in a service with discovery on, waits for discovery to resolve it.
 */
@Injectable()
export class UpstreamRegistry implements OnApplicationShutdown {
  /** Indexed like `GatewayConfig.services` (`ServiceConfig.index`). */
  readonly services: readonly ServiceUpstreams[];
  private readonly listeners: ((change: TargetSetChange) => void)[] = [];
  /** Pools of removed targets, closing once their requests in flight have ended. */
  private readonly draining = new Set<Dispatcher>();
  private nextIndex = 0;

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    private readonly metrics: GatewayMetrics,
    @Inject(PROXY_RANDOM) random: () => number,
  ) {
    this.services = config.services.map((service) => {
      const fixed = service.discovery.enabled
        ? service.targets.filter(({ url }) => resolvableHost(url) === null)
        : service.targets;
      return new ServiceUpstreams(
        service,
        fixed.map(({ url }) => this.createTarget(service, url, url)),
        new RetryPolicy(service.retry, service.idempotencyKeys, random),
        service.cors ? new CorsPolicy(service.cors) : null,
        metrics.forService(service.name),
        random,
      );
    });
  }

  get(index: number): ServiceUpstreams {
    return this.services[index];
  }

  /** Calls `listener` after every change of a service's target set. */
  onTargetsChanged(listener: (change: TargetSetChange) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Makes `wanted` the target set of `service`, in one swap. A target whose origin stays keeps
   * its pool and health; a new origin gets its own; a target that goes is out of rotation at
   * once and its pool closes when the requests in flight on it have ended.
   */
  setTargets(service: ServiceUpstreams, wanted: readonly WantedTarget[]): TargetSetChange {
    const current = service.targets;
    const kept = new Set<string>();
    for (const { origin } of wanted) kept.add(origin);
    const added: UpstreamTarget[] = [];
    const known = new Set(current.map((t) => t.origin));
    for (const { origin, source } of wanted) {
      if (known.has(origin)) continue;
      known.add(origin);
      added.push(this.createTarget(service.config, origin, source));
    }
    const removed = current.filter((t) => !kept.has(t.origin));
    const change: TargetSetChange = { service, added, removed };
    if (added.length === 0 && removed.length === 0) return change;
    // Kept targets hold their places so that the rotation carries on evenly.
    service.balancer.replace(
      Object.freeze([...current.filter((t) => kept.has(t.origin)), ...added]),
    );
    for (const target of removed) this.retire(target);
    for (const listener of this.listeners) listener(change);
    return change;
  }

  async onApplicationShutdown(): Promise<void> {
    // The HTTP server has closed by now, so nothing is in flight that a pool still owes.
    const pools = [...this.draining, ...this.services.flatMap((s) => s.targets.map((t) => t.pool))];
    await Promise.all(pools.map((pool) => pool.destroy().catch(() => undefined)));
  }

  private createTarget(service: ServiceConfig, origin: string, source: string): UpstreamTarget {
    const sourceHost = new URL(source).hostname;
    const pool = new Pool(origin, {
      connections: service.connectionsPerTarget,
      pipelining: 1,
      connect: {
        timeout: Math.min(service.timeouts.connectMs, service.timeouts.perTryMs),
        // A resolved address still presents the name's certificate.
        ...(origin !== source && source.startsWith('https:') ? { servername: sourceHost } : {}),
      },
      // The per-try timer of the exchange bounds the wait for headers; this only bounds a stuck socket.
      headersTimeout: service.timeouts.perTryMs + 1_000,
      // Between body chunks: a stream may idle this long, whatever the per-try timeout.
      bodyTimeout: service.timeouts.idleMs,
    });
    const target = new UpstreamTarget(
      service.name,
      this.nextIndex++,
      origin,
      pool,
      new TargetHealth(service.passiveHealth),
      source,
      service.targets.find((t) => t.url === source)?.weight ?? 1,
    );
    this.metrics.trackTargetHealth(service.name, origin, () => target.health.healthy);
    return target;
  }

  private retire(target: UpstreamTarget): void {
    target.retired = true;
    this.metrics.forgetTarget(target.service, target.origin);
    const pool = target.pool;
    this.draining.add(pool);
    void pool
      .close()
      .catch(() => undefined)
      .finally(() => this.draining.delete(pool));
  }
}
