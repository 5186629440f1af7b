import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * What a request asks of the cache: `lookup` (normal); `refresh` (`Cache-Control: no-cache` or
 * `max-age=0`, `Pragma: no-cache`): do not answer from the cache, but keep the fresh answer;
 * `bypass` (`no-store`): neither answer from the cache nor keep the answer.
 */
export type RequestCacheMode = 'lookup' | 'refresh' | 'bypass';

export function requestCacheMode(headers: IncomingHttpHeaders): RequestCacheMode {
  const control = headers['cache-control'];
  if (control !== undefined) {
    const directives = cacheDirectives(control);
    if (directives.has('no-store')) return 'bypass';
    if (directives.has('no-cache') || directives.get('max-age') === '0') return 'refresh';
  }
  const pragma = headers.pragma;
  if (pragma !== undefined && /(^|,)\s*no-cache\s*(,|$)/i.test(pragma)) return 'refresh';
  return 'lookup';
}

/** The only request headers a cached response may vary on; both are part of every key. */
const VARY_ALLOWED: ReadonlySet<string> = new Set(['accept', 'accept-encoding']);

/**
 * How long (ms) the gateway may keep a response, 0 when it must not. Kept: status 200, no
 * `Set-Cookie`, `Vary` naming at most `Accept` and `Accept-Encoding` (never `*`), and no
 * `Cache-Control` `no-store` or `no-cache`. `private` is kept only in a per-user entry (`shared`
 * false), which serves no one but that user. `s-maxage` (shared entries) or `max-age` shortens
 * the configured TTL; `max-age=0` or an unreadable value means not kept.
 */
export function storableTtlMs(
  status: number,
  headers: OutgoingHttpHeaders,
  shared: boolean,
  ttlSeconds: number,
): number {
  if (status !== 200 || headers['set-cookie'] !== undefined) return 0;
  const vary = headers.vary;
  if (vary !== undefined) {
    for (const name of String(vary).split(',')) {
      const trimmed = name.trim().toLowerCase();
      if (trimmed !== '' && !VARY_ALLOWED.has(trimmed)) return 0;
    }
  }
  const control = headers['cache-control'];
  if (control === undefined) return ttlSeconds * 1000;
  const directives = cacheDirectives(String(control));
  if (directives.has('no-store') || directives.has('no-cache')) return 0;
  if (shared && directives.has('private')) return 0;
  const maxAge =
    shared && directives.has('s-maxage') ? directives.get('s-maxage') : directives.get('max-age');
  if (maxAge === undefined) return ttlSeconds * 1000;
  if (!/^\d{1,10}$/.test(maxAge)) return 0;
  return Math.min(ttlSeconds, Number(maxAge)) * 1000;
}

/** `Cache-Control` directives by lower-case name, values unquoted (`''` when a directive has none). */
function cacheDirectives(value: string | string[]): Map<string, string> {
  const directives = new Map<string, string>();
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (name === '') continue;
    const raw = eq < 0 ? '' : part.slice(eq + 1).trim();
    directives.set(name, raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw);
  }
  return directives;
}

/**
 * The entry's key within a service and generation: the stripped canonical path with its query,
 * the caller for a per-user entry (`null` on a public route), and the `Accept`/`Accept-Encoding`
 * values. Hashed, so keys have a fixed length whatever the URL; NUL separates the parts because
 * it can occur in none of them.
 */
export function cacheKey(
  pathAndQuery: string,
  caller: string | null,
  headers: IncomingHttpHeaders,
): string {
  return createHash('sha256')
    .update(caller === null ? 'public' : `user\0${caller}`)
    .update('\0')
    .update(pathAndQuery)
    .update('\0')
    .update(headers.accept ?? '')
    .update('\0')
    .update(headers['accept-encoding'] ?? '')
    .digest('base64url');
}
