import { Injectable } from '@nestjs/common';
import { RateLimiter } from '../rate-limit/rate-limiter';
import type { GatewayConfig } from '../routing/gateway-config';
import { RouteTable } from '../routing/route-table';
import { ConfigGeneration, ConfigVersion } from './config-generation';
import { RouteSteps } from './route-steps';
import { PreparedServices, UpstreamRegistry } from './upstream-registry';

/** A generation built beside the current one, and the services it would put in place. */
export interface PreparedGeneration {
  readonly generation: ConfigGeneration;
  readonly services: PreparedServices;
}

/** Builds a `ConfigGeneration` from a config: routes, services (through the registry) and steps. */
@Injectable()
export class GenerationBuilder {
  constructor(
    private readonly registry: UpstreamRegistry,
    private readonly steps: RouteSteps,
    private readonly limiter: RateLimiter,
  ) {}

  /** The generation of the config read at start, on the registry's first services. */
  first(config: GatewayConfig, digest: string): ConfigGeneration {
    return this.generation(config, { number: 1, digest }, this.registry.services);
  }

  /**
   * The generation of a reloaded config, its services made beside the current ones (unchanged
   * targets shared). Nothing is in use until `UpstreamRegistry.adopt(prepared.services)`.
   */
  prepare(config: GatewayConfig, version: Omit<ConfigVersion, 'loadedAt'>): PreparedGeneration {
    const services = this.registry.prepare(config);
    try {
      return { generation: this.generation(config, version, services.services), services };
    } catch (err) {
      void this.registry.discard(services);
      throw err;
    }
  }

  private generation(
    config: GatewayConfig,
    version: Omit<ConfigVersion, 'loadedAt'>,
    services: PreparedServices['services'],
  ): ConfigGeneration {
    this.limiter.register(config);
    return new ConfigGeneration(
      { ...version, loadedAt: new Date().toISOString() },
      config,
      new RouteTable(config),
      services,
      services.map((upstreams) => this.steps.forService(upstreams.config)),
    );
  }
}
