import { PathCanonicalizer } from './path-canonicalizer';

/**
 * The string formats of the gateway's config schema that a pattern cannot say. A format that can
 * tell why it refuses a value names it; otherwise the field's `errorMessage` is the message.
 */
export interface ConfigFormat {
  accepts(text: string): boolean;
  /** What is wrong with a refused `text`. */
  problem?(text: string): string;
}

const paths = new PathCanonicalizer();

/** The path as the gateway itself would canonicalise it, unchanged and without a query. */
export function isCanonicalPath(text: string): boolean {
  const canonical = paths.canonicalize(text);
  return canonical.ok && canonical.path === text && canonical.query === '';
}

const CANONICAL_PATH: ConfigFormat = { accepts: isCanonicalPath };

/** A format from a function naming the problem of a value, `undefined` for a good one. */
function explained(problem: (text: string) => string | undefined): ConfigFormat {
  return { accepts: (text) => problem(text) === undefined, problem: (text) => problem(text) ?? '' };
}

const HTTP_ORIGIN = explained((text) => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'not an http(s) URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'not an http(s) URL';
  if (url.username || url.password) return 'must not carry credentials';
  if (url.pathname !== '/' || url.search || url.hash) {
    return 'must be an origin such as http://127.0.0.1:3001 (no path or query)';
  }
  return undefined;
});

const CORS_ORIGIN = explained((text) => {
  if (text === '*') return undefined;
  if (text === 'null') return 'the "null" origin is never allowed';
  try {
    const url = new URL(text);
    if ((url.protocol === 'http:' || url.protocol === 'https:') && url.origin === text) {
      return undefined;
    }
  } catch {
    // not a URL: the message below
  }
  return 'must be an exact origin such as https://shop.example.com';
});

export const CONFIG_FORMATS: Readonly<Record<string, ConfigFormat>> = {
  'canonical-path': CANONICAL_PATH,
  'http-origin': HTTP_ORIGIN,
  'cors-origin': CORS_ORIGIN,
};
