import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import type { GatewayConfig } from '../routing/gateway-config';
import { GATEWAY_CONFIG } from '../routing/routing.tokens';
import { UpstreamHealth } from '../proxy/upstream-health';

/** Readiness details of the routes: the config they come from, and healthy targets per service. */
@Injectable()
export class RoutesHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly upstreams: UpstreamHealth,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  configLoaded() {
    return this.indicators
      .check('config')
      .up({ source: this.config.source, services: this.config.services.length });
  }

  /** Always up: a dead upstream is answered with 503 per request, not by taking the gateway out. */
  upstreamTargets() {
    return this.indicators.check('upstreams').up(this.upstreams.summary());
  }
}
