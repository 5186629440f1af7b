import type { GatewayConfig } from '../routing/gateway-config';
import type { RouteTable } from '../routing/route-table';
import type { ProxyStep } from './proxy-step';
import type { ServiceUpstreams } from './upstream-registry';

/** Which config a generation runs: its number since start and the file's content digest. */
export interface ConfigVersion {
  /** 1 for the config read at start, one more for each reload that took effect. */
  readonly number: number;
  /** The first 12 hex digits of the SHA-256 of the file's bytes. */
  readonly digest: string;
  /** When it took effect (ISO time). */
  readonly loadedAt: string;
}

/**
 * Everything the proxy path builds from one config: routes, services with their targets and the
 * steps of each service. Immutable; a reload builds the next one and swaps it in whole, so a
 * request reads one generation from start to end.
 */
export class ConfigGeneration {
  constructor(
    readonly version: ConfigVersion,
    readonly config: GatewayConfig,
    readonly routes: RouteTable,
    /** Indexed like `config.services` (`ServiceConfig.index`). */
    readonly services: readonly ServiceUpstreams[],
    /** Per service: the route steps that apply to it, in order. */
    readonly stepsOf: readonly (readonly ProxyStep[])[],
  ) {}
}
