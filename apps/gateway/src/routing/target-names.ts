import { isIP } from 'node:net';

/**
 * The host of a target origin that discovery resolves: a name, not an IP literal and not
 * `localhost` (which always means this machine). `null` for a target used as written.
 */
export function resolvableHost(origin: string): string | null {
  const host = new URL(origin).hostname;
  if (host.startsWith('[') || isIP(host) !== 0 || host === 'localhost') return null;
  return host;
}

/** The origin of one resolved address of `source`: same scheme and port, IPv6 bracketed. */
export function addressOrigin(source: string, address: string): string {
  const url = new URL(source);
  const host = isIP(address) === 6 ? `[${address}]` : address;
  return `${url.protocol}//${host}${url.port ? `:${url.port}` : ''}`;
}
