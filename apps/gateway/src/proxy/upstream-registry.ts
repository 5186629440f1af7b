import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Dispatcher, Pool } from 'undici';
import { resolvableHost } from '../routing/target-names';
import { GatewayMetrics, ServiceMetrics } from '../metrics/gateway-metrics';
import type { GatewayConfig, ServiceConfig, TargetConfig } from '../routing/gateway-config';
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
  /** Replaced by a reloaded config: requests already on it finish, its target set no longer changes. */
  superseded = false;

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

/** The services of a config, built beside the current ones and not in use yet (`prepare`). */
export interface PreparedServices {
  readonly services: readonly ServiceUpstreams[];
  /** Targets made for these services: none of the current services has them. */
  readonly created: readonly UpstreamTarget[];
  /** Current targets that these services do not keep. */
  readonly dropped: readonly UpstreamTarget[];
}

/** What one `UpstreamRegistry.adopt` changed. */
export interface ServicesReplaced {
  readonly previous: readonly ServiceUpstreams[];
  readonly services: readonly ServiceUpstreams[];
  readonly added: readonly UpstreamTarget[];
  readonly removed: readonly UpstreamTarget[];
}

/**
 * The services of the config with their targets, one keep-alive undici Pool per target. A target
 * whose host is a name, in a service with discovery on, waits for discovery to resolve it. A
 * reloaded config gets services of its own (`prepare`, then `adopt`), which keep the targets that
 * did not change, with their pools and health.
 */
@Injectable()
export class UpstreamRegistry implements OnApplicationShutdown {
  /** Indexed like `GatewayConfig.services` (`ServiceConfig.index`). */
  private current: readonly ServiceUpstreams[];
  private readonly listeners: ((change: TargetSetChange) => void)[] = [];
  private readonly replacedListeners: ((change: ServicesReplaced) => void)[] = [];
  /** Pools of removed targets, closing once their requests in flight have ended. */
  private readonly draining = new Set<Dispatcher>();
  private nextIndex = 0;

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    private readonly metrics: GatewayMetrics,
    @Inject(PROXY_RANDOM) private readonly random: () => number,
  ) {
    this.current = config.services.map((service) =>
      this.createService(
        service,
        fixedTargets(service).map(({ url }) => this.createTarget(service, url, url)),
        metrics.forService(service.name),
      ),
    );
  }

  /** The services in use, indexed like `GatewayConfig.services` (`ServiceConfig.index`). */
  get services(): readonly ServiceUpstreams[] {
    return this.current;
  }

  get(index: number): ServiceUpstreams {
    return this.current[index];
  }

  /** Calls `listener` after `adopt` put other services in place. */
  onServicesReplaced(listener: (change: ServicesReplaced) => void): void {
    this.replacedListeners.push(listener);
  }

  /**
   * The services of `config`, not in use yet. A target is kept, with its pool and health, when a
   * current service of the same name has it (same origin and configured target) with the same
   * weight and the same settings it was built from (`targetSettings`); otherwise it is new. A
   * service with discovery on keeps the addresses found for a name it still lists.
   */
  prepare(config: GatewayConfig): PreparedServices {
    const byName = new Map(this.current.map((service) => [service.name, service]));
    const created: UpstreamTarget[] = [];
    const kept = new Set<UpstreamTarget>();
    const services = config.services.map((service) => {
      const before = byName.get(service.name);
      const reusable =
        before !== undefined && targetSettings(before.config) === targetSettings(service)
          ? before.targets
          : [];
      const targets = wantedTargets(service, before?.targets ?? []).map(({ origin, source }) => {
        const weight = weightOf(service, source);
        const same = reusable.find(
          (t) => t.origin === origin && t.source === source && t.weight === weight,
        );
        if (same !== undefined) {
          kept.add(same);
          return same;
        }
        const target = this.createTarget(service, origin, source);
        created.push(target);
        return target;
      });
      return this.createService(
        service,
        targets,
        before?.metrics ?? this.metrics.forService(service.name),
      );
    });
    const dropped = this.current.flatMap((s) => s.targets.filter((t) => !kept.has(t)));
    return { services, created, dropped };
  }

  /**
   * Puts prepared services in place of the current ones. Requests already on the old services
   * finish there, on the targets both share or on dropped ones, which are out of rotation at once
   * and whose pools close when their requests in flight have ended.
   */
  adopt(prepared: PreparedServices): ServicesReplaced {
    const previous = this.current;
    this.current = prepared.services;
    const removed = new Set(prepared.dropped);
    for (const service of previous) {
      service.superseded = true;
      // A retry of an old request goes to a target still in use, never to a closing pool.
      if (service.targets.some((t) => removed.has(t))) {
        service.balancer.replace(Object.freeze(service.targets.filter((t) => !removed.has(t))));
      }
    }
    for (const target of prepared.dropped) this.retire(target);
    const change: ServicesReplaced = {
      previous,
      services: prepared.services,
      added: prepared.created,
      removed: prepared.dropped,
    };
    for (const listener of this.replacedListeners) listener(change);
    return change;
  }

  /** Closes what `prepare` made, for services that will not be used. */
  async discard(prepared: PreparedServices): Promise<void> {
    await Promise.all(
      prepared.created.map((target) => {
        this.forget(target);
        return target.pool.destroy().catch(() => undefined);
      }),
    );
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
    if (service.superseded) return { service, added: [], removed: [] };
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
    const pools = [...this.draining, ...this.current.flatMap((s) => s.targets.map((t) => t.pool))];
    await Promise.all(pools.map((pool) => pool.destroy().catch(() => undefined)));
  }

  private createService(
    service: ServiceConfig,
    targets: readonly UpstreamTarget[],
    metrics: ServiceMetrics,
  ): ServiceUpstreams {
    return new ServiceUpstreams(
      service,
      targets,
      new RetryPolicy(service.retry, service.idempotencyKeys, this.random),
      service.cors ? new CorsPolicy(service.cors) : null,
      metrics,
      this.random,
    );
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
      weightOf(service, source),
    );
    this.metrics.trackTargetHealth(service.name, origin, () => target.health.healthy);
    return target;
  }

  private retire(target: UpstreamTarget): void {
    target.retired = true;
    this.forget(target);
    const pool = target.pool;
    this.draining.add(pool);
    void pool
      .close()
      .catch(() => undefined)
      .finally(() => this.draining.delete(pool));
  }

  /** Its series end, unless a target in use has its service and origin: they then report that one. */
  private forget(target: UpstreamTarget): void {
    const heir = this.current
      .find((s) => s.name === target.service)
      ?.targets.find((t) => t !== target && t.origin === target.origin);
    if (heir === undefined) this.metrics.forgetTarget(target.service, target.origin);
    else this.metrics.trackTargetHealth(heir.service, heir.origin, () => heir.health.healthy);
  }
}

/** The configured targets used as written: all of them, or with discovery on those that are not names. */
function fixedTargets(service: ServiceConfig): readonly TargetConfig[] {
  return service.discovery.enabled
    ? service.targets.filter(({ url }) => resolvableHost(url) === null)
    : service.targets;
}

/**
 * The targets a reloaded service starts with: its fixed ones and, with discovery on, the
 * addresses already found for each name it still lists (discovery refreshes them after).
 */
function wantedTargets(
  service: ServiceConfig,
  before: readonly UpstreamTarget[],
): readonly WantedTarget[] {
  const wanted: WantedTarget[] = fixedTargets(service).map(({ url }) => ({
    origin: url,
    source: url,
  }));
  if (!service.discovery.enabled) return wanted;
  const names = new Set(
    service.targets.map(({ url }) => url).filter((url) => resolvableHost(url) !== null),
  );
  for (const target of before) {
    if (target.origin !== target.source && names.has(target.source)) {
      wanted.push({ origin: target.origin, source: target.source });
    }
  }
  return wanted;
}

function weightOf(service: ServiceConfig, source: string): number {
  return service.targets.find((t) => t.url === source)?.weight ?? 1;
}

/**
 * What a target of `service` is built from besides its origin: its pool's settings and its
 * health rules. A target whose service changes any of them is made anew.
 */
export function targetSettings(service: ServiceConfig): string {
  return JSON.stringify([
    service.connectionsPerTarget,
    service.timeouts,
    service.passiveHealth,
    service.activeHealth,
    service.discovery.enabled,
  ]);
}
