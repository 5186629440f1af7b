import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * The client's address as rate limits and login attempts see it. With no trusted proxy it is the socket's peer. With
 * `trustedHops` proxies in front, each appending the address it saw to `X-Forwarded-For`, it is the
 * entry that many hops from the right: the one the outermost trusted proxy wrote. Entries left of
 * it come from the client and are never read. A request with fewer entries than that, or with a
 * non-address there, did not come through the proxies: its socket address is used. An IPv4 address
 * is always written as such (`::ffff:10.0.0.1` is `10.0.0.1`), however the socket reports it.
 */
export function clientAddress(req: IncomingMessage, trustedHops: number): string {
  const socket = unmapped(req.socket.remoteAddress ?? 'unknown');
  if (trustedHops === 0) return socket;
  const header = req.headers['x-forwarded-for'];
  if (header === undefined) return socket;
  const entries = (Array.isArray(header) ? header.join(',') : header).split(',');
  // The socket's peer is the nearest proxy; the entry `trustedHops` from the right is the client.
  const index = entries.length - trustedHops;
  if (index < 0) return socket;
  const entry = entries[index].trim();
  return isIP(entry) === 0 ? socket : unmapped(entry);
}

const IPV4_MAPPED = '::ffff:';

function unmapped(address: string): string {
  return address.startsWith(IPV4_MAPPED) && isIP(address.slice(IPV4_MAPPED.length)) === 4
    ? address.slice(IPV4_MAPPED.length)
    : address;
}
