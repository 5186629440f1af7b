import type { OutgoingHttpHeaders } from 'node:http';
import type { CorsConfig } from '../routing/gateway-config';
import { mergeHeaders } from './header-merge';

/** An answer that depends on the request's `Origin` says so, for the caches on the way. */
const VARY_ORIGIN: OutgoingHttpHeaders = Object.freeze({ vary: 'Origin' });

/**
 * A service's CORS rules, answered by the gateway alone: an origin is allowed only when it is on
 * the allow-list (exact match), `null` never is, and `*` is never combined with credentials.
 */
export class CorsPolicy {
  private readonly origins: ReadonlySet<string>;
  private readonly anyOrigin: boolean;
  private readonly preflight: OutgoingHttpHeaders;

  constructor(private readonly config: CorsConfig) {
    this.anyOrigin = config.origins.includes('*');
    this.origins = new Set(config.origins);
    this.preflight = {
      'access-control-allow-methods': config.methods.join(', '),
      'access-control-allow-headers': config.allowHeaders.join(', '),
      'access-control-max-age': String(config.maxAgeSeconds),
    };
  }

  /** The value for `Access-Control-Allow-Origin`, or `undefined` when the origin is not allowed. */
  allowedOrigin(origin: string | undefined): string | undefined {
    if (origin === undefined) return undefined;
    if (this.anyOrigin) return '*';
    return this.origins.has(origin) ? origin : undefined;
  }

  /** Headers of the gateway's own answer to a preflight request. */
  preflightHeaders(origin: string | undefined): OutgoingHttpHeaders {
    const allowed = this.allowedOrigin(origin);
    if (allowed === undefined) return { vary: 'Origin' };
    return { ...this.preflight, ...this.originHeaders(allowed), vary: 'Origin' };
  }

  /** Adds the CORS headers of an actual response to `headers` (which may carry the upstream's `Vary`). */
  decorate(headers: OutgoingHttpHeaders, origin: string | undefined): void {
    mergeHeaders(headers, VARY_ORIGIN);
    const allowed = this.allowedOrigin(origin);
    if (allowed === undefined) return;
    Object.assign(headers, this.originHeaders(allowed));
    if (this.config.exposeHeaders.length > 0) {
      headers['access-control-expose-headers'] = this.config.exposeHeaders.join(', ');
    }
  }

  private originHeaders(allowed: string): OutgoingHttpHeaders {
    return this.config.credentials
      ? { 'access-control-allow-origin': allowed, 'access-control-allow-credentials': 'true' }
      : { 'access-control-allow-origin': allowed };
  }
}

/** A CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`. */
export function isPreflight(method: string | undefined, headers: Record<string, unknown>): boolean {
  return (
    method === 'OPTIONS' &&
    headers.origin !== undefined &&
    headers['access-control-request-method'] !== undefined
  );
}
