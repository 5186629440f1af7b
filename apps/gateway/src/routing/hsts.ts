import type { GatewayConfig } from './gateway-config';

/** The Strict-Transport-Security header of `tls.hsts`, or none when its max-age is 0. */
export function hstsHeaders(tls: GatewayConfig['tls']): Record<string, string> {
  const { maxAgeSeconds, includeSubDomains } = tls.hsts;
  if (maxAgeSeconds === 0) return {};
  const value = `max-age=${maxAgeSeconds}${includeSubDomains ? '; includeSubDomains' : ''}`;
  return { 'strict-transport-security': value };
}
