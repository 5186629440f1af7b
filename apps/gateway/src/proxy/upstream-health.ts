import { APP_PINO } from '@app/common';
import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  OnApplicationBootstrap,
} from '@nestjs/common';
import type { Logger } from 'pino';
import { Client } from 'undici';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import {
  ServicesReplaced,
  ServiceUpstreams,
  TargetSetChange,
  UpstreamRegistry,
} from './upstream-registry';
import type { TargetPick, UpstreamTarget } from './upstream-target';

export interface ServiceHealthSummary {
  healthy: number;
  total: number;
}

/**
 * Upstream health: records the outcome of requests on each target (passive: ejection after
 * consecutive failed requests, never of the last target in rotation, one trial after the cooldown) and polls each target's health path (active, on its own
 * connection so that a saturated pool cannot make a live target look dead).
 */
@Injectable()
export class UpstreamHealth implements OnApplicationBootstrap, BeforeApplicationShutdown {
  /** The next round of active checks of each service in use. */
  private readonly timers = new Map<ServiceUpstreams, NodeJS.Timeout>();
  private readonly probes = new Map<UpstreamTarget, Client>();
  private readonly ejections = new Map<UpstreamTarget, { inc(): void }>();
  private stopped = false;

  constructor(
    private readonly registry: UpstreamRegistry,
    private readonly metrics: GatewayMetrics,
    @Inject(APP_PINO) private readonly logger: Logger,
  ) {
    for (const service of registry.services) {
      for (const target of service.targets) {
        this.ejections.set(target, metrics.ejectionsOf(service.name, target.origin));
      }
    }
    registry.onTargetsChanged((change) => this.targetsChanged(change));
    registry.onServicesReplaced((change) => this.servicesReplaced(change));
  }

  succeeded(pick: TargetPick): void {
    if (pick.target.health.succeeded(pick.trial)) {
      this.logger.info({ msg: 'target back in rotation', ...where(pick.target) });
    }
  }

  /** A request failed on `pick`; the caller reports each target at most once per request. */
  failed(service: ServiceUpstreams, pick: TargetPick): void {
    const health = pick.target.health;
    // Failures are rare next to requests: counting the others in rotation here costs nothing that matters.
    const others = service.balancer.healthyCount() - (health.healthy ? 1 : 0);
    if (health.failed(pick.trial, others > 0)) {
      this.ejections.get(pick.target)?.inc();
      this.logger.warn({ msg: 'target ejected', trial: pick.trial, ...where(pick.target) });
    }
  }

  released(pick: TargetPick): void {
    pick.target.health.released(pick.trial);
  }

  summary(): Record<string, ServiceHealthSummary> {
    const out: Record<string, ServiceHealthSummary> = {};
    for (const service of this.registry.services) {
      out[service.name] = {
        healthy: service.balancer.healthyCount(),
        total: service.targets.length,
      };
    }
    return out;
  }

  onApplicationBootstrap(): void {
    for (const service of this.registry.services) {
      if (service.config.activeHealth.enabled) this.schedule(service, 0);
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.all([...this.probes.values()].map((c) => c.destroy().catch(() => undefined)));
  }

  /** Added targets are checked at once; removed ones lose their probe connection. */
  private targetsChanged({ service, added, removed }: TargetSetChange): void {
    for (const target of removed) {
      this.ejections.delete(target);
      this.dropProbe(target);
    }
    for (const target of added) {
      this.ejections.set(target, this.metrics.ejectionsOf(service.name, target.origin));
      if (service.config.activeHealth.enabled && !this.stopped) void this.check(service, target);
    }
  }

  /**
   * A reloaded config: the old services' rounds stop and the new ones' start, on the same
   * cadence; kept targets keep their health and probe connection, new ones are checked at once.
   */
  private servicesReplaced({ previous, services, added, removed }: ServicesReplaced): void {
    for (const service of previous) {
      const timer = this.timers.get(service);
      if (timer !== undefined) clearTimeout(timer);
      this.timers.delete(service);
    }
    for (const target of removed) {
      this.ejections.delete(target);
      this.dropProbe(target);
    }
    const fresh = new Set(added);
    for (const service of services) {
      for (const target of service.targets) {
        if (fresh.has(target)) {
          this.ejections.set(target, this.metrics.ejectionsOf(service.name, target.origin));
        }
      }
      if (!service.config.activeHealth.enabled || this.stopped) continue;
      for (const target of service.targets) if (fresh.has(target)) void this.check(service, target);
      this.schedule(service, service.config.activeHealth.intervalMs);
    }
  }

  private dropProbe(target: UpstreamTarget): void {
    const client = this.probes.get(target);
    if (!client) return;
    this.probes.delete(target);
    void client.destroy().catch(() => undefined);
  }

  /** Checks every target of `service` once, now. */
  async checkService(service: ServiceUpstreams): Promise<void> {
    await Promise.all(service.targets.map((target) => this.check(service, target)));
  }

  private schedule(service: ServiceUpstreams, delayMs: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(service);
      void this.checkService(service).finally(() => {
        if (!this.stopped && !service.superseded) {
          this.schedule(service, service.config.activeHealth.intervalMs);
        }
      });
    }, delayMs);
    timer.unref();
    this.timers.set(service, timer);
  }

  private async check(service: ServiceUpstreams, target: UpstreamTarget): Promise<void> {
    if (target.retired) return;
    const { path, timeoutMs } = service.config.activeHealth;
    let up = false;
    let reason = '';
    try {
      const res = await this.probeClient(target, timeoutMs).request({
        path,
        method: 'GET',
        headers: { 'user-agent': 'api-gateway-health' },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body.dump();
      up = res.statusCode >= 200 && res.statusCode < 300;
      if (!up) reason = `${path} answered ${res.statusCode}`;
    } catch (err) {
      up = false;
      reason = probeFailure(err, timeoutMs);
    }
    if (this.stopped) return;
    if (target.retired) {
      // Removed while its check was on the way.
      this.dropProbe(target);
      return;
    }
    const wasHealthy = target.health.healthy;
    target.health.activeResult(up);
    if (wasHealthy && !up) {
      this.logger.warn({ msg: 'target failed its health check', ...where(target), reason });
    } else if (!wasHealthy && target.health.healthy) {
      this.logger.info({ msg: 'target passed its health check', ...where(target) });
    }
  }

  private probeClient(target: UpstreamTarget, timeoutMs: number): Client {
    let client = this.probes.get(target);
    if (!client) {
      client = new Client(target.origin, { connect: { timeout: timeoutMs }, pipelining: 1 });
      this.probes.set(target, client);
    }
    return client;
  }
}

/** A failed probe in words a person reads once: "connection refused", not a stack. */
function probeFailure(err: unknown, timeoutMs: number): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host name not found';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'connection reset';
  const name = (err as { name?: unknown } | null)?.name;
  if (
    name === 'TimeoutError' ||
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'UND_ERR_HEADERS_TIMEOUT'
  ) {
    return `no answer within ${timeoutMs} ms`;
  }
  return err instanceof Error ? err.message : String(err);
}

function where(target: UpstreamTarget) {
  return { upstream: target.service, target: target.origin };
}
