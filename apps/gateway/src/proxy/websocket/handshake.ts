import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorBody } from '@app/contracts';
import { authorizationOf } from '../../auth/bearer-token';

/** The only version of the protocol (RFC 6455 4.1); a client offering another gets 426 naming it. */
export const WEBSOCKET_VERSION = '13';

/**
 * The browser form of a bearer token: an entry `bearer.<token>` of `Sec-WebSocket-Protocol`, the
 * one handshake header a page's `new WebSocket(url, protocols)` can set.
 */
export const PROTOCOL_BEARER_PREFIX = 'bearer.';

/** A 16-byte nonce in base64 (RFC 6455 4.1, item 7). */
const WEBSOCKET_KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

/** Whether `req` asks for a WebSocket (`Upgrade` names `websocket`, in any case, among others). */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  return upgrade !== undefined && hasToken(upgrade, 'websocket');
}

export interface HandshakeProblem {
  readonly status: 400 | 426;
  readonly message: string;
  readonly headers?: Record<string, string>;
}

/** What is wrong with a client's opening handshake (RFC 6455 4.2.1), or `null`. */
export function handshakeProblem(req: IncomingMessage): HandshakeProblem | null {
  if (req.method !== 'GET') return { status: 400, message: 'a WebSocket handshake is a GET' };
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor < 1) {
    return { status: 400, message: 'a WebSocket handshake needs HTTP/1.1' };
  }
  const connection = req.headers.connection;
  if (connection === undefined || !hasToken(connection, 'upgrade')) {
    return { status: 400, message: 'Connection must include upgrade' };
  }
  if (req.headers['sec-websocket-version'] !== WEBSOCKET_VERSION) {
    return {
      status: 426,
      message: `WebSocket version ${WEBSOCKET_VERSION} is required`,
      headers: { 'sec-websocket-version': WEBSOCKET_VERSION, upgrade: 'websocket' },
    };
  }
  const key = req.headers['sec-websocket-key'];
  if (key === undefined || !WEBSOCKET_KEY.test(key)) {
    return { status: 400, message: 'Sec-WebSocket-Key must be a base64 16-byte nonce' };
  }
  return null;
}

/** The credential of a handshake, and the subprotocols to offer the upstream without it. */
export type HandshakeCredential =
  | {
      readonly ok: true;
      /** As the Authorization step reads it: the header, or the browser form as `Bearer <token>`. */
      readonly authorization: string | undefined;
      /** `Sec-WebSocket-Protocol` for the upstream: `null` to send none. */
      readonly protocols: string | null;
    }
  | { readonly ok: false; readonly message: string };

/**
 * The token of a handshake: the `Authorization` header as for any request, or, for browsers that
 * cannot set it, one `bearer.<token>` entry of `Sec-WebSocket-Protocol`. That entry never reaches
 * the upstream. Both forms at once, or two bearer entries, are two credentials: refused.
 */
export function handshakeCredential(req: IncomingMessage): HandshakeCredential {
  const authorization = authorizationOf(req);
  const offered = req.headers['sec-websocket-protocol'];
  if (offered === undefined) return { ok: true, authorization, protocols: null };
  let bearer: string | undefined;
  const others: string[] = [];
  for (const entry of offered.split(',')) {
    const protocol = entry.trim();
    if (protocol === '') continue;
    if (protocol.slice(0, PROTOCOL_BEARER_PREFIX.length).toLowerCase() !== PROTOCOL_BEARER_PREFIX) {
      others.push(protocol);
      continue;
    }
    if (bearer !== undefined) return { ok: false, message: 'more than one bearer subprotocol' };
    bearer = protocol.slice(PROTOCOL_BEARER_PREFIX.length);
  }
  const protocols = others.length === 0 ? null : others.join(', ');
  if (bearer === undefined) return { ok: true, authorization, protocols };
  if (authorization !== undefined) {
    return { ok: false, message: 'a token in both Authorization and Sec-WebSocket-Protocol' };
  }
  return { ok: true, authorization: `Bearer ${bearer}`, protocols };
}

/**
 * An HTTP answer written on the raw socket of an upgrade request (there is no `ServerResponse`
 * before the upgrade): the status line, `headers`, `body`, and the connection closed.
 */
export function writeRawAnswer(
  socket: Duplex,
  status: number,
  headers: OutgoingHttpHeaders,
  body: string | Buffer = '',
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.write(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n${headerLines(headers)}connection: close\r\n\r\n`,
    'latin1',
  );
  socket.end(body);
  // A client that never closes its side must not hold the socket.
  setTimeout(() => socket.destroy(), 1_000).unref();
}

/** The gateway's error shape `{ statusCode, error, message, requestId }` on a raw socket. */
export function writeRawError(
  socket: Duplex,
  status: number,
  message: string,
  requestId: string,
  extraHeaders?: Record<string, string>,
): void {
  const body: ErrorBody = {
    statusCode: status,
    error: STATUS_CODES[status] ?? 'Error',
    message,
    requestId,
  };
  const text = JSON.stringify(body);
  writeRawAnswer(
    socket,
    status,
    {
      ...extraHeaders,
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      'x-request-id': requestId,
    },
    text,
  );
}

/** `name: value\r\n` lines; a list header gives one line per value. */
export function headerLines(headers: OutgoingHttpHeaders): string {
  let out = '';
  for (const name of Object.keys(headers)) {
    if (name === 'connection') continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) out += `${name}: ${item}\r\n`;
    else out += `${name}: ${value}\r\n`;
  }
  return out;
}

/** Whether the comma-separated header `value` holds `token`, in any case. */
function hasToken(value: string, token: string): boolean {
  for (const part of value.split(',')) {
    if (part.trim().toLowerCase() === token) return true;
  }
  return false;
}
