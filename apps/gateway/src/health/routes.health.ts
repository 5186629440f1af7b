import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { LiveConfig } from '../proxy/live-config';
import { UpstreamHealth } from '../proxy/upstream-health';
import { ConfigReloader } from '../reload/config-reloader';

/** Readiness details of the routes: the config in effect, its last reload, and healthy targets per service. */
@Injectable()
export class RoutesHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly upstreams: UpstreamHealth,
    private readonly live: LiveConfig,
    private readonly reloader: ConfigReloader,
  ) {}

  /** Up with the version in effect; a failed reload is reported here but keeps the gateway in. */
  configLoaded() {
    const { config, version } = this.live.current;
    const last = this.reloader.lastReload;
    return this.indicators.check('config').up({
      source: config.source,
      services: config.services.length,
      version,
      lastReload:
        last === null
          ? null
          : { at: last.at, trigger: last.trigger, result: last.result, error: last.error },
    });
  }

  /** Always up: a dead upstream is answered with 503 per request, not by taking the gateway out. */
  upstreamTargets() {
    return this.indicators.check('upstreams').up(this.upstreams.summary());
  }
}
