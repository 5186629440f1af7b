import { lookup } from 'node:dns/promises';

/** The addresses (IPv4 or IPv6 literals) a host name stands for now; rejects when it cannot tell. */
export type HostResolver = (host: string) => Promise<readonly string[]>;

/** Replaceable in tests, so that they decide what a name resolves to. */
export const HOST_RESOLVER = Symbol('HOST_RESOLVER');

/** The system's resolver (getaddrinfo: /etc/hosts, then DNS such as Docker's embedded server). */
export const lookupAddresses: HostResolver = async (host) =>
  (await lookup(host, { all: true })).map((entry) => entry.address);
