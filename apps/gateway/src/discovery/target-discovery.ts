import { APP_PINO } from '@app/common';
import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import {
  ServicesReplaced,
  ServiceUpstreams,
  UpstreamRegistry,
  WantedTarget,
} from '../proxy/upstream-registry';
import { HOST_RESOLVER, HostResolver } from './host-resolver';
import { addressOrigin, resolvableHost } from '../routing/target-names';

/** One configured target whose host is a name, with what it last resolved to. */
interface NamedTarget {
  readonly source: string;
  readonly host: string;
  /** The last answer; `null` until the name has resolved once. */
  addresses: readonly string[] | null;
  failing: boolean;
}

/** A service with discovery on and at least one named target. */
interface DiscoveredService {
  readonly upstreams: ServiceUpstreams;
  /** Targets used as written (IP literals, `localhost`). */
  readonly fixed: readonly WantedTarget[];
  readonly names: readonly NamedTarget[];
  /** The resolution under way, so that two never overlap. */
  running: Promise<void> | null;
}

/**
 * Keeps the target set of every service with discovery on in step with what its target names
 * resolve to: one target per address, resolved before the first request and again every
 * `discovery.intervalMs`. An address that appears is added, one that disappears is drained; a
 * name that fails to resolve keeps its last known addresses, so that a DNS blip never empties a
 * service.
 */
@Injectable()
export class TargetDiscovery implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private services: readonly DiscoveredService[];
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private started = false;

  constructor(
    private readonly registry: UpstreamRegistry,
    @Inject(HOST_RESOLVER) private readonly resolve: HostResolver,
    @Inject(APP_PINO) private readonly logger: Logger,
  ) {
    this.services = discovered(registry.services, []);
    registry.onServicesReplaced((change) => this.servicesReplaced(change));
  }

  async onApplicationBootstrap(): Promise<void> {
    // The server listens only after this: the first requests already see the resolved targets.
    await this.refresh();
    this.started = true;
    for (const service of this.services) this.schedule(service);
  }

  /**
   * A reloaded config: its services start from the addresses already known for the names they
   * keep (the registry carried those targets over) and are resolved again at once.
   */
  private servicesReplaced({ services }: ServicesReplaced): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.services = discovered(services, this.services);
    if (!this.started || this.stopped) return;
    for (const service of this.services) this.refreshThenSchedule(service);
  }

  beforeApplicationShutdown(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** Resolves the target names of every service with discovery on, now. */
  async refresh(): Promise<void> {
    await Promise.all(this.services.map((service) => this.refreshService(service)));
  }

  private refreshService(service: DiscoveredService): Promise<void> {
    const previous = service.running ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.resolveService(service));
    service.running = run;
    return run.finally(() => {
      if (service.running === run) service.running = null;
    });
  }

  /** Resolves the service's names now (a failure is logged), then again after its interval. */
  private refreshThenSchedule(service: DiscoveredService): void {
    void this.refreshService(service)
      .catch((err: unknown) =>
        this.logger.error({
          msg: 'target discovery failed',
          upstream: service.upstreams.name,
          err,
        }),
      )
      .finally(() => this.schedule(service));
  }

  private schedule(service: DiscoveredService): void {
    if (this.stopped || service.upstreams.superseded) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.refreshThenSchedule(service);
    }, service.upstreams.config.discovery.intervalMs);
    timer.unref();
    this.timers.add(timer);
  }

  private async resolveService(service: DiscoveredService): Promise<void> {
    await Promise.all(service.names.map((name) => this.resolveName(service, name)));
    if (this.stopped) return;
    const wanted: WantedTarget[] = [...service.fixed];
    for (const name of service.names) {
      for (const address of name.addresses ?? []) {
        wanted.push({ origin: addressOrigin(name.source, address), source: name.source });
      }
    }
    const { added, removed } = this.registry.setTargets(service.upstreams, wanted);
    if (added.length === 0 && removed.length === 0) return;
    this.logger.info({
      msg: 'targets changed',
      upstream: service.upstreams.name,
      added: added.map((t) => t.origin),
      removed: removed.map((t) => t.origin),
      targets: service.upstreams.targets.length,
    });
  }

  private async resolveName(service: DiscoveredService, name: NamedTarget): Promise<void> {
    const where = { upstream: service.upstreams.name, target: name.source };
    let addresses: string[];
    try {
      addresses = [...new Set(await this.resolve(name.host))].filter((a) => isIP(a) !== 0);
      if (addresses.length === 0) throw new Error(`${name.host} resolved to no address`);
    } catch (err) {
      if (!name.failing) {
        name.failing = true;
        if (name.addresses === null) {
          this.logger.error({
            msg: 'target name does not resolve; no target for it until it does',
            ...where,
            err: (err as Error).message,
          });
        } else {
          this.logger.warn({
            msg: 'target name does not resolve; keeping its last known addresses',
            ...where,
            addresses: name.addresses,
            err: (err as Error).message,
          });
        }
      }
      return;
    }
    if (name.failing) {
      name.failing = false;
      this.logger.info({ msg: 'target name resolves again', ...where });
    }
    name.addresses = addresses;
  }
}

/** The services with discovery on and a target name, each name's known addresses taken from `before`. */
function discovered(
  services: readonly ServiceUpstreams[],
  before: readonly DiscoveredService[],
): DiscoveredService[] {
  const out: DiscoveredService[] = [];
  for (const upstreams of services) {
    if (!upstreams.config.discovery.enabled) continue;
    const known = before.find((s) => s.upstreams.name === upstreams.name);
    const fixed: WantedTarget[] = [];
    const names: NamedTarget[] = [];
    for (const { url: source } of upstreams.config.targets) {
      const host = resolvableHost(source);
      if (host === null) {
        fixed.push({ origin: source, source });
        continue;
      }
      const previous = known?.names.find((n) => n.source === source);
      names.push({
        source,
        host,
        addresses: previous?.addresses ?? null,
        failing: previous?.failing ?? false,
      });
    }
    if (names.length > 0) out.push({ upstreams, fixed, names, running: null });
  }
  return out;
}
