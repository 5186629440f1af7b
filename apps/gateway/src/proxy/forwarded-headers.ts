import { IDENTITY_HEADERS } from '@app/contracts';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Principal } from '../auth/principal';

/**
 * Hop-by-hop headers (RFC 9110 7.6.1) and `HTTP2-Settings` (RFC 7540 3.2.1), which an HTTP/2
 * answer may not carry; every `Proxy-*` goes too, the obsolete `Proxy-Connection` among them.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/** Never copied from the client: set by the gateway, or (identity) only ever vouched for by it. */
const NOT_FROM_CLIENT = new Set([
  ...HOP_BY_HOP,
  'host',
  // Node has answered `100-continue` already; undici refuses the header.
  'expect',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
  // Set per attempt with the gateway's own span id (ExchangeTrace).
  'traceparent',
  'tracestate',
  // The gateway has verified the bearer token; services get the identity headers, never the token.
  'authorization',
  IDENTITY_HEADERS.userId,
  IDENTITY_HEADERS.email,
  IDENTITY_HEADERS.roles,
  // An HTTP/2 request's pseudo-headers: the method and target go upstream as such, not as headers.
  ':method',
  ':path',
  ':scheme',
  ':authority',
  ':protocol',
]);

/**
 * Headers for the upstream request as a flat `[name, value, ...]` list: the client's headers
 * without hop-by-hop ones (and those its `Connection` names), `Host` (undici sets the target's),
 * identity headers and any client-sent forwarding headers; then `X-Forwarded-For` (appended to),
 * `X-Forwarded-Proto`, `X-Forwarded-Host` and `X-Request-Id`. The client's `traceparent` and
 * `tracestate` are left out here: `ExchangeTrace` sets them.
 */
export function upstreamRequestHeaders(req: IncomingMessage, requestId: string): string[] {
  const headers = req.headers;
  const named = connectionOptions(headers.connection);
  const out: string[] = [];
  let forwardedFor: string | undefined;
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined) continue;
    if (named !== null && named.has(name)) continue;
    if (NOT_FROM_CLIENT.has(name) || name.startsWith('proxy-')) {
      if (name === 'x-forwarded-for') forwardedFor = String(value);
      continue;
    }
    if (typeof value === 'string') out.push(name, value);
    else for (const item of value) out.push(name, item);
  }
  const client = req.socket.remoteAddress ?? 'unknown';
  out.push(
    'x-forwarded-for',
    forwardedFor ? `${forwardedFor}, ${client}` : client,
    'x-forwarded-proto',
    (req.socket as Partial<TLSSocket>).encrypted ? 'https' : 'http',
  );
  if (headers.host !== undefined) out.push('x-forwarded-host', headers.host);
  out.push('x-request-id', requestId);
  return out;
}

/** Appends the verified caller's identity headers to a flat upstream header list. */
export function pushIdentityHeaders(headers: string[], principal: Principal): void {
  const identity = principal.identityHeaders;
  headers.push(
    IDENTITY_HEADERS.userId,
    identity[IDENTITY_HEADERS.userId],
    IDENTITY_HEADERS.email,
    identity[IDENTITY_HEADERS.email],
    IDENTITY_HEADERS.roles,
    identity[IDENTITY_HEADERS.roles],
  );
}

/** Response headers for the client: the upstream's without hop-by-hop, `Proxy-*` and `Access-Control-*` ones. */
export function clientResponseHeaders(
  headers: IncomingHttpHeaders,
  requestId: string,
): OutgoingHttpHeaders {
  const named = connectionOptions(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name of Object.keys(headers)) {
    if (HOP_BY_HOP.has(name) || name === 'x-request-id') continue;
    if (named !== null && named.has(name)) continue;
    // The gateway is the CORS authority: an upstream's own Access-Control-* headers are dropped.
    if (name.startsWith('proxy-') || name.startsWith('access-control-')) continue;
    out[name] = headers[name];
  }
  out['x-request-id'] = requestId;
  return out;
}

/** Header names listed in a `Connection` header, except the `keep-alive`/`close` options. */
function connectionOptions(value: string | string[] | undefined): Set<string> | null {
  if (value === undefined || value === 'keep-alive' || value === 'close') return null;
  let named: Set<string> | null = null;
  for (const token of String(value).split(',')) {
    const name = token.trim().toLowerCase();
    if (name === '' || name === 'keep-alive' || name === 'close') continue;
    (named ??= new Set()).add(name);
  }
  return named;
}
