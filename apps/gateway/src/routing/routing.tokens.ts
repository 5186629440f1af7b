/** The validated gateway config file (`GatewayConfig`). */
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
