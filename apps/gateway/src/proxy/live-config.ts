import { Inject, Injectable } from '@nestjs/common';
import type { GatewayConfig } from '../routing/gateway-config';
import { LOADED_GATEWAY_CONFIG, LoadedGatewayConfig } from '../routing/routing.tokens';
import { ConfigGeneration } from './config-generation';
import { GenerationBuilder } from './generation-builder';
import { UpstreamRegistry } from './upstream-registry';

/**
 * The generation in effect. `current` is the one property a request reads to find its routes,
 * services and steps; `replace` builds the next generation and swaps it in with one assignment,
 * so a request keeps the generation it started on, however long it runs.
 */
@Injectable()
export class LiveConfig {
  current: ConfigGeneration;
  private readonly listeners: ((next: ConfigGeneration, previous: ConfigGeneration) => void)[] = [];

  constructor(
    private readonly builder: GenerationBuilder,
    private readonly registry: UpstreamRegistry,
    @Inject(LOADED_GATEWAY_CONFIG) loaded: LoadedGatewayConfig,
  ) {
    this.current = builder.first(loaded.config, loaded.digest);
  }

  /** Calls `listener` after each swap. */
  onReplaced(listener: (next: ConfigGeneration, previous: ConfigGeneration) => void): void {
    this.listeners.push(listener);
  }

  /** Builds the generation of `config` and puts it in effect; the config must be valid and reloadable. */
  replace(config: GatewayConfig, digest: string): ConfigGeneration {
    const previous = this.current;
    const prepared = this.builder.prepare(config, { number: previous.version.number + 1, digest });
    this.current = prepared.generation;
    this.registry.adopt(prepared.services);
    for (const listener of this.listeners) listener(prepared.generation, previous);
    return prepared.generation;
  }
}
