/**
 * What RFC 7515/7519 ask of a compact token before its signature and claims are looked at, and
 * that the JWT library does not check: refused, with a fixed description, or `null` to go on.
 *
 * - Five parts are a JWE (RFC 7516 §9): the gateway never accepts encrypted tokens.
 * - Header and claims are JSON objects without duplicate member names, at any depth (RFC 7515
 *   §5.2 step 4, RFC 7519 §4 allow "last one wins" instead; refusing leaves no two readings).
 * - `crit` (RFC 7515 §4.1.11): the gateway understands no extension header, so any `crit`
 *   (even an empty list, which §4.1.11 forbids) makes the token invalid.
 * - `typ` (RFC 7515 §4.1.9, RFC 7519 §5.1, RFC 9068 §2.1): absent, `JWT` or `at+jwt`, compared
 *   case-insensitively, with or without the `application/` prefix; anything else is another kind
 *   of token (a JWE, an ID token, a DPoP proof) and is refused.
 */
export function checkJoseStructure(token: string): string | null {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (second < 0) return 'malformed token';
  if (token.indexOf('.', second + 1) >= 0) {
    return token.split('.').length === 5 ? 'encrypted tokens are not accepted' : 'malformed token';
  }
  const header = decodeObject(token.slice(0, first));
  if (header === null) return 'malformed token';
  if (header === DUPLICATE) return 'duplicate member in token';
  const claims = decodeObject(token.slice(first + 1, second));
  if (claims === DUPLICATE) return 'duplicate member in token';
  // A claims part that is not an object is left to the claim checks, which refuse it.
  if (header.crit !== undefined) return 'unsupported critical header';
  if (header.typ !== undefined && !isAccessTokenType(header.typ)) return 'unsupported token type';
  return null;
}

const DUPLICATE = Symbol('duplicate member');
const TYPES = new Set(['jwt', 'at+jwt', 'application/jwt', 'application/at+jwt']);

function isAccessTokenType(typ: unknown): boolean {
  return typeof typ === 'string' && TYPES.has(typ.toLowerCase());
}

/** A base64url part as a JSON object; `null` when it is not one, `DUPLICATE` when a name repeats. */
function decodeObject(part: string): Record<string, unknown> | typeof DUPLICATE | null {
  const text = Buffer.from(part, 'base64url').toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  return hasDuplicateMember(text) ? DUPLICATE : (value as Record<string, unknown>);
}

/**
 * Whether any object in `json` (valid JSON) repeats a member name. One pass over the text: a stack
 * of the names seen per open object; a string right after `{` or `,` inside an object is a name.
 * Names are compared after JSON unescaping, so `"a"` and `"\u0061"` are the same name.
 */
export function hasDuplicateMember(json: string): boolean {
  const stack: Array<Set<string> | null> = [];
  let expectName = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let end = i + 1;
      while (json.charCodeAt(end) !== 0x22) end += json.charCodeAt(end) === 0x5c ? 2 : 1;
      if (expectName) {
        const names = stack[stack.length - 1]!;
        const name = JSON.parse(json.slice(i, end + 1)) as string;
        if (names.has(name)) return true;
        names.add(name);
        expectName = false;
      }
      i = end;
    } else if (c === 0x7b /* { */) {
      stack.push(new Set());
      expectName = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
      expectName = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectName = false;
    } else if (c === 0x2c /* , */) {
      expectName = stack[stack.length - 1] instanceof Set;
    }
  }
  return false;
}
