import type { GatewayConfig } from './gateway-config';

/** The validated gateway config file (`GatewayConfig`) read at start. */
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');

/** The config read at start with the digest of its file (`LoadedGatewayConfig`). */
export const LOADED_GATEWAY_CONFIG = Symbol('LOADED_GATEWAY_CONFIG');

/** A validated config and the first 12 hex digits of the SHA-256 of the file it was read from. */
export interface LoadedGatewayConfig {
  readonly config: GatewayConfig;
  readonly digest: string;
}
