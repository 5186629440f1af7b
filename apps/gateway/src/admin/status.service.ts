import { Injectable } from '@nestjs/common';
import type { ConfigVersion } from '../proxy/config-generation';
import { LiveConfig } from '../proxy/live-config';
import { formatAuthPolicy } from '../routing/auth-policy';
import type { TrafficSnapshot } from '../metrics/traffic-window';
import type { GatewayConfig, ServiceConfig } from '../routing/gateway-config';
import { GatewayConfigSchema, ServiceSchema } from '../routing/gateway-config.schema';
import type { ServiceUpstreams } from '../proxy/upstream-registry';
import { ConfigReloader, ReloadOutcome } from '../reload/config-reloader';
import type { UpstreamTarget } from '../proxy/upstream-target';
import { TunnelRegistry } from '../proxy/websocket/tunnel-registry';

/** `up`: in rotation; `down`: failing its active check; `ejected`: out after failed requests. */
export type TargetState = 'up' | 'down' | 'ejected';

export interface TargetStatus {
  readonly origin: string;
  readonly state: TargetState;
  readonly healthy: boolean;
  readonly ejected: boolean;
  /** End of the ejection's cooldown (ISO time), `null` when not ejected. */
  readonly ejectedUntil: string | null;
  readonly cooldownRemainingMs: number;
  readonly consecutiveFailures: number;
  /** Ejections since start. */
  readonly ejections: number;
  /** Attempts on their way to or back from this target now. */
  readonly inFlight: number;
  /** Its share under the weighted balancer; only on a service balanced by weight. */
  readonly weight?: number;
  /** The last active health check (ISO time), `null` before the first. */
  readonly lastCheck: { readonly at: string; readonly up: boolean } | null;
}

export interface ServiceStatus {
  readonly name: string;
  readonly basePath: string;
  /** How the service's requests are spread over its targets (the config's `balancer`). */
  readonly balancer: string;
  readonly healthy: number;
  readonly total: number;
  readonly inFlight: number;
  readonly ejections: number;
  /** WebSocket tunnels open now (0 unless the service has `websocket: true`). */
  readonly tunnels: number;
  readonly traffic: TrafficSnapshot;
  readonly targets: readonly TargetStatus[];
}

/** One service's effective config as reported: each key of a service in the config schema. */
export type ServiceReport = { readonly [K in ServiceReportKey]: unknown };

/** The loaded config as reported: every field, so that what the gateway runs with is visible. */
export type ConfigReport = { readonly [K in ConfigReportKey]: unknown } & {
  /** The file the configuration was read from. */
  readonly source: string;
  readonly services: readonly ServiceReport[];
};

export interface GatewayStatus {
  readonly generatedAt: string;
  readonly uptimeSeconds: number;
  /** The config generation in effect. */
  readonly configVersion: ConfigVersion;
  /** The last reload that changed something or failed, `null` before one. */
  readonly lastReload: Omit<ReloadOutcome, 'version'> | null;
  readonly services: readonly ServiceStatus[];
  readonly config: ConfigReport;
}

/** What `GET /api/admin/status` reports: every service and target, live, and the loaded config. */
@Injectable()
export class StatusService {
  constructor(
    private readonly live: LiveConfig,
    private readonly reloader: ConfigReloader,
    private readonly tunnels: TunnelRegistry,
  ) {}

  report(): GatewayStatus {
    const now = Date.now();
    const generation = this.live.current;
    const last = this.reloader.lastReload;
    return {
      generatedAt: new Date(now).toISOString(),
      uptimeSeconds: Math.round(process.uptime()),
      configVersion: generation.version,
      lastReload:
        last === null
          ? null
          : { at: last.at, trigger: last.trigger, result: last.result, error: last.error },
      services: generation.services.map((service) =>
        serviceStatus(service, now, this.tunnels.openFor(service.name)),
      ),
      config: configReport(generation.config),
    };
  }
}

function serviceStatus(service: ServiceUpstreams, now: number, tunnels: number): ServiceStatus {
  // Read at each report: the target set of a service may change while the gateway runs.
  const weighted = service.config.balancer === 'weighted';
  const targets = service.targets.map((target) => targetStatus(target, now, weighted));
  let healthy = 0;
  let inFlight = 0;
  let ejections = 0;
  for (const target of targets) {
    if (target.healthy) healthy += 1;
    inFlight += target.inFlight;
    ejections += target.ejections;
  }
  return {
    name: service.name,
    basePath: service.config.basePath,
    balancer: service.config.balancer,
    healthy,
    total: targets.length,
    inFlight,
    ejections,
    tunnels,
    traffic: service.metrics.recent.snapshot(),
    targets,
  };
}

function targetStatus(target: UpstreamTarget, now: number, weighted: boolean): TargetStatus {
  const health = target.health.snapshot();
  const down = health.lastCheck !== null && !health.lastCheck.up;
  return {
    origin: withoutCredentials(target.origin),
    state: down ? 'down' : health.ejected ? 'ejected' : 'up',
    healthy: health.healthy,
    ejected: health.ejected,
    ejectedUntil:
      health.cooldownUntil === null ? null : new Date(health.cooldownUntil).toISOString(),
    cooldownRemainingMs:
      health.cooldownUntil === null ? 0 : Math.max(0, Math.round(health.cooldownUntil - now)),
    consecutiveFailures: health.consecutiveFailures,
    ejections: health.ejections,
    inFlight: target.inFlight,
    ...(weighted ? { weight: target.weight } : {}),
    lastCheck:
      health.lastCheck === null
        ? null
        : { at: new Date(health.lastCheck.at).toISOString(), up: health.lastCheck.up },
  };
}

/** The keys of a service's report: those of a service in the config schema, in its order. */
export type ServiceReportKey = keyof (typeof ServiceSchema)['properties'];
const SERVICE_KEYS = Object.keys(ServiceSchema.properties) as ServiceReportKey[];

/** The keys of the config report: the schema's top level, `defaults` folded into each service. */
export type ConfigReportKey = Exclude<keyof (typeof GatewayConfigSchema)['properties'], 'defaults'>;
const CONFIG_KEYS = Object.keys(GatewayConfigSchema.properties).filter(
  (key): key is ConfigReportKey => key !== 'defaults',
);

/** Values reported otherwise than as loaded: no credentials, policies in the file's spelling. */
const SHOWN: { readonly [K in ServiceReportKey]?: (value: ServiceConfig[K]) => unknown } = {
  // A target of weight 1 as a plain URL, as most files write it.
  targets: (targets) =>
    targets.map(({ url, weight }) =>
      weight === 1 ? withoutCredentials(url) : { url: withoutCredentials(url), weight },
    ),
  auth: (auth) => ({
    default: formatAuthPolicy(auth.default),
    rules: auth.rules.map((rule) => ({ ...plain(rule), policy: formatAuthPolicy(rule.policy) })),
  }),
};

/**
 * The whole effective config, defaults applied: every key of the config schema, so a key added
 * there is reported without a change here; credentials in target URLs removed.
 */
function configReport(config: GatewayConfig): ConfigReport {
  const report: Record<string, unknown> = { source: config.source };
  for (const key of CONFIG_KEYS) {
    report[key] = key === 'services' ? config.services.map(serviceReport) : plain(config[key]);
  }
  return report as ConfigReport;
}

function serviceReport(service: ServiceConfig): ServiceReport {
  return Object.fromEntries(SERVICE_KEYS.map((key) => [key, show(key, service)])) as ServiceReport;
}

function show<K extends ServiceReportKey>(key: K, service: ServiceConfig): unknown {
  const shown = SHOWN[key];
  return shown ? shown(service[key]) : plain(service[key]);
}

/** A deep copy of a config section (plain data: numbers, strings, booleans, lists, records). */
function plain<T>(value: T): T {
  return structuredClone(value);
}

/** A URL with any user name and password removed; other text as it is. */
function withoutCredentials(text: string): string {
  if (!text.includes('@')) return text;
  try {
    const url = new URL(text);
    url.username = '';
    url.password = '';
    return url.href.endsWith('/') && !text.endsWith('/') ? url.href.slice(0, -1) : url.href;
  } catch {
    return text.slice(text.lastIndexOf('@') + 1);
  }
}
