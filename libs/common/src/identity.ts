import { IDENTITY_HEADERS, Identity } from '@app/contracts';
import type { IncomingHttpHeaders } from 'node:http';

const USER_ID = /^[1-9]\d{0,15}$/;

/**
 * Reads the caller from the headers the gateway sets after verifying a token (a client's own copies
 * are dropped there): `X-User-Id`, `X-User-Email` (percent-encoded when not plain ASCII) and the
 * comma-separated `X-User-Roles`. `undefined` when there is no usable user id.
 */
export function parseIdentity(headers: IncomingHttpHeaders): Identity | undefined {
  const userId = single(headers[IDENTITY_HEADERS.userId])?.trim();
  // A repeated header arrives joined ("1, 2") and fails this test, as it should.
  if (userId === undefined || !USER_ID.test(userId)) return undefined;
  const id = Number(userId);
  if (!Number.isSafeInteger(id)) return undefined;
  const roles = (single(headers[IDENTITY_HEADERS.roles]) ?? '')
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const rawEmail = single(headers[IDENTITY_HEADERS.email])?.trim();
  const email = rawEmail ? decodeEmail(rawEmail) : undefined;
  return { userId: id, roles: [...new Set(roles)], ...(email ? { email } : {}) };
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value;
}

function decodeEmail(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}
