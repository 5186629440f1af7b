import { APP_PINO } from '@app/common';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import type { ConfigVersion } from '../proxy/config-generation';
import { LiveConfig } from '../proxy/live-config';
import { GatewayConfigError, readGatewayConfig } from '../routing/gateway-config.loader';
import { GATEWAY_SETTINGS, GatewaySettings } from '../routing/gateway-env';
import { unreloadableChanges } from './reload-limits';

/** What asked for the reload. */
export type ReloadTrigger = 'SIGHUP' | 'file';

/**
 * `success`: the new generation is in effect; `invalid`: the file was unreadable, failed
 * validation or changed what needs a restart, and nothing changed; `error`: building the new
 * generation failed, and nothing changed; `unchanged`: the file's bytes are those in effect.
 */
export type ReloadResult = 'success' | 'invalid' | 'error' | 'unchanged';

export interface ReloadOutcome {
  readonly at: string;
  readonly trigger: ReloadTrigger;
  readonly result: ReloadResult;
  /** Why nothing changed (`invalid`, `error`), else `null`. */
  readonly error: string | null;
  /** The version in effect afterwards. */
  readonly version: ConfigVersion;
}

/**
 * Reads the config file again, validates it with the loader's rules and, when it is valid and
 * changes nothing that needs a restart, puts a new generation in effect (`LiveConfig.replace`).
 * Synchronous from reading to swapping: no request runs in between, and two reloads never
 * overlap. An invalid file leaves everything as it was and is logged in one line naming each
 * problem with its field path. Counted in `gateway_config_reloads_total{result}`.
 */
@Injectable()
export class ConfigReloader {
  /** The last reload that read other bytes than those in effect (or ended a failure); `null` before one. */
  lastReload: ReloadOutcome | null = null;
  private readonly file: string;
  private readonly reloads: Counter<'result'>;

  constructor(
    private readonly live: LiveConfig,
    config: ConfigService,
    metrics: GatewayMetrics,
    @Inject(APP_PINO) private readonly logger: Logger,
  ) {
    this.file = config.getOrThrow<GatewaySettings>(GATEWAY_SETTINGS).configFile;
    this.reloads = new Counter({
      name: 'gateway_config_reloads_total',
      help: 'Config reloads by result: success, invalid (nothing changed), error (nothing changed)',
      labelNames: ['result'] as const,
      registers: [metrics.registry],
    });
    for (const result of ['success', 'invalid', 'error'] as const)
      this.reloads.labels(result).inc(0);
  }

  reload(trigger: ReloadTrigger): ReloadOutcome {
    const current = this.live.current;
    let loaded;
    try {
      loaded = readGatewayConfig(this.file);
    } catch (err) {
      return this.refused(trigger, err instanceof GatewayConfigError ? 'invalid' : 'error', err);
    }
    if (loaded.digest === current.version.digest) {
      this.logger[trigger === 'SIGHUP' ? 'info' : 'debug']({
        msg: 'config unchanged',
        trigger,
        version: current.version.number,
        digest: current.version.digest,
      });
      const outcome = this.outcome(trigger, 'unchanged', null);
      // The file is back to the bytes in effect: the last failure is over.
      if (this.lastReload?.error) this.lastReload = outcome;
      return outcome;
    }
    const blocked = unreloadableChanges(current.config, loaded.config);
    if (blocked.length > 0) {
      return this.refused(
        trigger,
        'invalid',
        new Error(`gateway config ${loaded.config.source}: ${blocked.join('; ')}`),
      );
    }
    let next;
    try {
      next = this.live.replace(loaded.config, loaded.digest);
    } catch (err) {
      return this.refused(trigger, 'error', err);
    }
    this.reloads.labels('success').inc();
    this.logger.info({
      msg: 'config reloaded',
      trigger,
      version: next.version.number,
      digest: next.version.digest,
      services: next.services.map((s) => s.name),
    });
    this.lastReload = this.outcome(trigger, 'success', null);
    return this.lastReload;
  }

  private refused(
    trigger: ReloadTrigger,
    result: 'invalid' | 'error',
    err: unknown,
  ): ReloadOutcome {
    const reason = err instanceof Error ? err.message : String(err);
    this.reloads.labels(result).inc();
    const version = this.live.current.version;
    // One line: the reason names every problem with its field path.
    this.logger[result === 'invalid' ? 'warn' : 'error']({
      msg: `config not reloaded, version ${version.number} stays: ${reason}`,
      trigger,
      result,
      ...(result === 'error' && err instanceof Error ? { stack: err.stack } : {}),
    });
    this.lastReload = this.outcome(trigger, result, reason);
    return this.lastReload;
  }

  private outcome(trigger: ReloadTrigger, result: ReloadResult, error: string | null) {
    return {
      at: new Date().toISOString(),
      trigger,
      result,
      error,
      version: this.live.current.version,
    };
  }
}
