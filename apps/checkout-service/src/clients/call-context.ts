import { IDENTITY_HEADERS, Identity } from '@app/contracts';
import { REQUEST_ID_HEADER } from '@app/common';

/** Who asked, and under which request id, so calls to peers carry both along. */
export interface CallContext {
  identity: Identity;
  requestId: string;
}

/** `X-Request-Id` for every peer call. */
export function traceHeaders(ctx: CallContext): Record<string, string> {
  return { [REQUEST_ID_HEADER]: ctx.requestId };
}

/** The caller's identity as the gateway sent it, for a peer that authorises by it. */
export function identityHeaders(ctx: CallContext): Record<string, string> {
  const headers: Record<string, string> = {
    [IDENTITY_HEADERS.userId]: String(ctx.identity.userId),
    [IDENTITY_HEADERS.roles]: ctx.identity.roles.join(','),
  };
  if (ctx.identity.email) headers[IDENTITY_HEADERS.email] = ctx.identity.email;
  return headers;
}
