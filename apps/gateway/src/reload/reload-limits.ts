import { USER_SERVICE_NAME } from '../auth/credentials.client';
import type { GatewayConfig } from '../routing/gateway-config';

/**
 * What a reloaded config changes that only a restart can: `trustedProxyHops` (read once by the
 * login's client-address rule), the targets of `user-service` (the replicas the login asks,
 * read once) and `tls` (the TLS listener's answer headers, set when it starts). One line each;
 * empty when `next` can take effect live.
 */
export function unreloadableChanges(current: GatewayConfig, next: GatewayConfig): string[] {
  const changes: string[] = [];
  if (current.trustedProxyHops !== next.trustedProxyHops) {
    changes.push(
      `trustedProxyHops: ${current.trustedProxyHops} -> ${next.trustedProxyHops} needs a restart`,
    );
  }
  const tlsBefore = JSON.stringify(current.tls);
  const tlsAfter = JSON.stringify(next.tls);
  if (tlsBefore !== tlsAfter) changes.push(`tls: ${tlsBefore} -> ${tlsAfter} needs a restart`);
  const before = loginTargets(current);
  const after = loginTargets(next);
  if (before !== after) {
    changes.push(
      `services[${USER_SERVICE_NAME}].targets: ${before || 'none'} -> ${after || 'none'} needs a restart (the login's replicas)`,
    );
  }
  return changes;
}

function loginTargets(config: GatewayConfig): string {
  const service = config.services.find((s) => s.name === USER_SERVICE_NAME);
  return (service?.targets ?? []).map((t) => t.url).join(', ');
}
