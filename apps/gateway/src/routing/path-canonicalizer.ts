import { Injectable } from '@nestjs/common';

/** A request target after canonicalisation: the one path that routing and auth both decide on. */
export interface CanonicalPath {
  readonly ok: true;
  /** Starts with `/`; no empty, `.` or `..` segment; no trailing slash except for `/` itself. */
  readonly path: string;
  /** The raw query with its leading `?`, or `''`; forwarded verbatim and never used to decide. */
  readonly query: string;
}

export interface PathRejection {
  readonly ok: false;
  readonly reason: string;
}

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const BACKSLASH = 0x5c;
const HASH = 0x23;
const QUESTION = 0x3f;

/** Bytes that may not appear percent-encoded: they would change the path's structure after decoding. */
const STRUCTURAL_BYTES = new Set([0x00, SLASH, BACKSLASH, DOT]);

/**
 * Canonicalises the path of a request target, or refuses it.
 *
 * Refused (400): a target not starting with `/`; a raw backslash, `#`, space, control or non-ASCII
 * character; invalid percent-encoding; `%2F`, `%5C`, `%2E` or `%00` in any case; an empty segment
 * (`//`); a `.` or `..` segment. Accepted paths are normalised: percent-encoded unreserved
 * characters (`A-Z a-z 0-9 - _ ~`) are decoded, other escapes get upper-case hex, and one
 * trailing slash is dropped (`/api/users/` is `/api/users`). Matching stays case-sensitive.
 */
@Injectable()
export class PathCanonicalizer {
  canonicalize(target: string | undefined): CanonicalPath | PathRejection {
    if (target === undefined || target.charCodeAt(0) !== SLASH) {
      return reject('the request target must start with "/"');
    }
    // One pass over the path: its characters, and each segment as its closing slash arrives.
    // Decoding cannot make a `/` or `.` (both refused encoded), so segments are judged raw; a
    // character or escape problem anywhere is reported before a segment problem.
    const length = target.length;
    let end = length;
    let hasEscapes = false;
    let segmentProblem: string | null = null;
    let segmentStart = 1;
    for (let i = 1; i < length; i++) {
      const c = target.charCodeAt(i);
      if (c === SLASH) {
        segmentProblem ??= segmentIssue(target, segmentStart, i);
        segmentStart = i + 1;
      } else if (c === QUESTION) {
        end = i;
        break;
      } else if (c <= 0x20 || c >= 0x7f) {
        return reject('control, space or non-ASCII character in path');
      } else if (c === BACKSLASH) {
        return reject('backslash in path');
      } else if (c === HASH) {
        return reject('fragment in request target');
      } else if (c === PERCENT) {
        hasEscapes = true;
      }
    }
    // An empty last segment is the root or a trailing slash, which is dropped.
    const lastEmpty = segmentStart === end;
    if (!lastEmpty) segmentProblem ??= segmentIssue(target, segmentStart, end);

    let path = end === length ? target : target.slice(0, end);
    if (hasEscapes) {
      const decoded = decodeUnreserved(path);
      if (typeof decoded !== 'string') return decoded;
      path = decoded;
    }
    if (segmentProblem !== null) return reject(segmentProblem);
    if (lastEmpty && end > 1) path = path.slice(0, -1);
    return { ok: true, path, query: end === length ? '' : target.slice(end) };
  }
}

/** What is wrong with the segment `target[start, end)`: empty, `.` or `..`; `null` if nothing. */
function segmentIssue(target: string, start: number, end: number): string | null {
  const length = end - start;
  if (length === 0) return 'empty path segment';
  if (
    target.charCodeAt(start) === DOT &&
    (length === 1 || (length === 2 && target.charCodeAt(start + 1) === DOT))
  ) {
    return 'dot segment in path';
  }
  return null;
}

function decodeUnreserved(raw: string): string | PathRejection {
  let out = '';
  let copied = 0;
  for (let i = raw.indexOf('%'); i >= 0; i = raw.indexOf('%', i + 1)) {
    const hi = hexValue(raw.charCodeAt(i + 1));
    const lo = hexValue(raw.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) return reject('invalid percent-encoding in path');
    const byte = hi * 16 + lo;
    if (STRUCTURAL_BYTES.has(byte)) {
      return reject('percent-encoded "/", "\\", "." or NUL in path');
    }
    out += raw.slice(copied, i);
    out += isUnreserved(byte)
      ? String.fromCharCode(byte)
      : `%${raw.charAt(i + 1).toUpperCase()}${raw.charAt(i + 2).toUpperCase()}`;
    copied = i + 3;
    i += 2;
  }
  return out + raw.slice(copied);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function isUnreserved(byte: number): boolean {
  return (
    (byte >= 0x41 && byte <= 0x5a) ||
    (byte >= 0x61 && byte <= 0x7a) ||
    (byte >= 0x30 && byte <= 0x39) ||
    byte === 0x2d ||
    byte === 0x5f ||
    byte === 0x7e
  );
}

function reject(reason: string): PathRejection {
  return { ok: false, reason };
}
