import type { IncomingMessage } from 'node:http';
import { clientAddress } from './client-address';

const request = (forwardedFor: string | undefined, socket = '10.0.0.9') =>
  ({
    socket: { remoteAddress: socket },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  }) as unknown as IncomingMessage;

describe('clientAddress', () => {
  it('should use the socket address and ignore X-Forwarded-For when no proxy is trusted', () => {
    expect(clientAddress(request('1.2.3.4'), 0)).toBe('10.0.0.9');
    expect(clientAddress(request(undefined), 0)).toBe('10.0.0.9');
  });

  it('should take the entry the trusted proxy wrote, never a client-written one to its left', () => {
    // The client forged "6.6.6.6"; the one trusted proxy appended the address it saw.
    expect(clientAddress(request('6.6.6.6, 203.0.113.7'), 1)).toBe('203.0.113.7');
    expect(clientAddress(request('6.6.6.6,203.0.113.7, 10.0.0.2'), 2)).toBe('203.0.113.7');
  });

  it('should fall back to the socket address when the chain is shorter than the trusted hops', () => {
    expect(clientAddress(request('203.0.113.7'), 2)).toBe('10.0.0.9');
    expect(clientAddress(request(undefined), 1)).toBe('10.0.0.9');
  });

  it('should fall back to the socket address when the trusted entry is not an address', () => {
    expect(clientAddress(request('1.2.3.4, not-an-ip'), 1)).toBe('10.0.0.9');
    expect(clientAddress(request('1.2.3.4, '), 1)).toBe('10.0.0.9');
  });

  it('should accept IPv6 entries', () => {
    expect(clientAddress(request('2001:db8::1'), 1)).toBe('2001:db8::1');
  });

  it('should write an IPv4-mapped address as plain IPv4, from the socket or the header', () => {
    expect(clientAddress(request(undefined, '::ffff:10.0.0.9'), 0)).toBe('10.0.0.9');
    expect(clientAddress(request('::ffff:203.0.113.7'), 1)).toBe('203.0.113.7');
    expect(clientAddress(request(undefined, '::ffff:abcd'), 0)).toBe('::ffff:abcd');
  });
});
