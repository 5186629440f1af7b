import type { IncomingHttpHeaders } from 'node:http';
import type { CachedResponse } from './response-cache-store';

/**
 * Header fields a 304 carries (RFC 9110 §15.4.5): the ones a 200 to the same request would have
 * carried that let a client's cache update its copy; no content and no other representation data.
 */
const NOT_MODIFIED_FIELDS: readonly string[] = [
  'cache-control',
  'content-location',
  'date',
  'etag',
  'expires',
  'vary',
];

/**
 * Whether the request carries a precondition the origin must judge (RFC 9110 §13.1.1, §13.1.4:
 * `If-Match`, `If-Unmodified-Since`). The cache does not answer those; they go upstream, so a
 * failed precondition is the origin's own 412.
 */
export function hasStatePrecondition(headers: IncomingHttpHeaders): boolean {
  return headers['if-match'] !== undefined || headers['if-unmodified-since'] !== undefined;
}

/**
 * The answer to a GET or HEAD served from `entry`: the entry itself, or a 304 built from it when
 * the client's `If-None-Match` (weak comparison, `*`, lists) or, without one, `If-Modified-Since`
 * says it already holds this representation (RFC 9110 §13.1.2, §13.1.3, §13.2.2; RFC 9111 §4.3.2).
 */
export function answerFromEntry(
  method: string,
  headers: IncomingHttpHeaders,
  entry: CachedResponse,
): CachedResponse {
  return isNotModified(method, headers, entry) ? notModified(entry) : entry;
}

function isNotModified(
  method: string,
  headers: IncomingHttpHeaders,
  entry: CachedResponse,
): boolean {
  if (entry.status !== 200 || (method !== 'GET' && method !== 'HEAD')) return false;
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    return noneMatchFails(ifNoneMatch, single(entry.headers.etag));
  }
  const ifModifiedSince = headers['if-modified-since'];
  if (ifModifiedSince === undefined) return false;
  const since = parseHttpDate(ifModifiedSince);
  if (since === null) return false;
  const modified = lastModifiedOf(entry);
  return modified !== null && modified <= since;
}

/** True when `If-None-Match` matches the stored tag, so the condition is false (§13.1.2). */
function noneMatchFails(field: string, etag: string | undefined): boolean {
  if (field.trim() === '*') return true;
  if (etag === undefined) return false;
  const stored = opaqueTag(etag.trim());
  if (stored === null) return false;
  for (const member of entityTagList(field)) {
    if (member === stored) return true;
  }
  return false;
}

/** `entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE`: the quoted part, for weak comparison (§8.8.3.2). */
const ENTITY_TAG = /^(?:W\/)?("[\x21\x23-\x7e\x80-\xff]*")$/;

function opaqueTag(tag: string): string | null {
  const match = ENTITY_TAG.exec(tag);
  return match ? match[1] : null;
}

/** The opaque tags of a `#entity-tag` list; an unreadable member matches nothing. */
function entityTagList(field: string): string[] {
  const tags: string[] = [];
  for (const match of field.matchAll(/(?:W\/)?"[\x21\x23-\x7e\x80-\xff]*"/g)) {
    tags.push(match[0].startsWith('W/') ? match[0].slice(2) : match[0]);
  }
  return tags;
}

/**
 * The stored response's last modification time (RFC 9111 §4.3.2): `Last-Modified`, else its
 * `Date`, else when it was stored; seconds since the epoch.
 */
function lastModifiedOf(entry: CachedResponse): number | null {
  const lastModified = single(entry.headers['last-modified']);
  if (lastModified !== undefined) return parseHttpDate(lastModified);
  const date = single(entry.headers.date);
  if (date !== undefined) return parseHttpDate(date);
  return Math.floor(entry.storedAt / 1000);
}

function notModified(entry: CachedResponse): CachedResponse {
  const headers: Record<string, string | string[]> = {};
  for (const name of NOT_MODIFIED_FIELDS) {
    const value = entry.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  // Without a validator tag, Last-Modified is what lets the client's cache match the 304.
  const lastModified = entry.headers['last-modified'];
  if (headers.etag === undefined && lastModified !== undefined) {
    headers['last-modified'] = lastModified;
  }
  return { status: 304, headers, body: Buffer.alloc(0), storedAt: entry.storedAt };
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = '(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`);

/**
 * An HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, or the obsolete RFC 850 and asctime forms) in
 * seconds since the epoch; `null` for anything else, which the caller then ignores.
 */
function parseHttpDate(value: string): number | null {
  const text = value.trim();
  let day: string, month: string, year: number, hh: string, mm: string, ss: string;
  let match = IMF_FIXDATE.exec(text);
  if (match) {
    [, day, month, , hh, mm, ss] = match;
    year = Number(match[3]);
  } else if ((match = RFC850_DATE.exec(text))) {
    [, day, month, , hh, mm, ss] = match;
    // §5.6.7: a two-digit year more than 50 years in the future is in the past century.
    const yy = Number(match[3]);
    const thisYear = new Date().getUTCFullYear();
    year = 2000 + yy > thisYear + 50 ? 1900 + yy : 2000 + yy;
  } else if ((match = ASCTIME_DATE.exec(text))) {
    [, month, day, hh, mm, ss] = match;
    year = Number(match[6]);
  } else {
    return null;
  }
  const monthIndex = MONTHS.indexOf(month);
  const d = Number(day.trim());
  const [h, m, s] = [Number(hh), Number(mm), Number(ss)];
  if (d < 1 || d > 31 || h > 23 || m > 59 || s > 60) return null;
  const ms = Date.UTC(year, monthIndex, d, h, m, Math.min(s, 59));
  if (new Date(ms).getUTCDate() !== d) return null;
  return ms / 1000;
}
