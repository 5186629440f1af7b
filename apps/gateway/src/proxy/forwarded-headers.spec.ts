import 'reflect-metadata';
import type { IncomingMessage } from 'node:http';
import { clientResponseHeaders, upstreamRequestHeaders } from './forwarded-headers';

function request(headers: Record<string, string | string[]>, remoteAddress = '10.0.0.9') {
  return { headers, socket: { remoteAddress } } as unknown as IncomingMessage;
}

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
}

describe('upstreamRequestHeaders', () => {
  it('should drop hop-by-hop, named, identity, forwarding and trace headers and set its own', () => {
    const headers = upstreamRequestHeaders(
      request({
        host: 'api.example.com',
        connection: 'keep-alive, x-secret',
        'x-secret': 's',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        trailer: 'x',
        'transfer-encoding': 'chunked',
        upgrade: 'h2c',
        'proxy-authorization': 'p',
        expect: '100-continue',
        'x-user-id': '1',
        'x-user-email': 'a@b.c',
        'x-user-roles': 'admin',
        'x-forwarded-for': '203.0.113.1',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'evil',
        'x-request-id': 'from-client',
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        tracestate: 'congo=t61rcWkgMzE',
        accept: 'application/json',
        'content-length': '5',
      }),
      'req-1',
    );
    expect(pairs(headers)).toEqual([
      ['accept', 'application/json'],
      ['content-length', '5'],
      ['x-forwarded-for', '203.0.113.1, 10.0.0.9'],
      ['x-forwarded-proto', 'http'],
      ['x-forwarded-host', 'api.example.com'],
      ['x-request-id', 'req-1'],
    ]);
  });

  it('should start X-Forwarded-For with the client address', () => {
    const headers = pairs(upstreamRequestHeaders(request({}), 'r'));
    expect(headers).toContainEqual(['x-forwarded-for', '10.0.0.9']);
    expect(headers.find(([name]) => name === 'x-forwarded-host')).toBeUndefined();
  });
});

describe('clientResponseHeaders', () => {
  it('should drop hop-by-hop, named, Proxy-* and Access-Control-* headers and set the request id', () => {
    expect(
      clientResponseHeaders(
        {
          connection: 'close, x-hop',
          'x-hop': '1',
          'keep-alive': 'timeout=5',
          'transfer-encoding': 'chunked',
          'proxy-authenticate': 'Basic',
          'access-control-allow-origin': '*',
          'x-request-id': 'upstream-id',
          'set-cookie': ['a=1', 'b=2'],
          'content-type': 'application/json',
        },
        'req-1',
      ),
    ).toEqual({
      'set-cookie': ['a=1', 'b=2'],
      'content-type': 'application/json',
      'x-request-id': 'req-1',
    });
  });
});
