/** W3C Trace Context header names (https://www.w3.org/TR/trace-context/). */
export const TRACEPARENT_HEADER = 'traceparent';
export const TRACESTATE_HEADER = 'tracestate';

/** The `sampled` bit of `trace-flags`: the caller may have recorded its span. */
export const SAMPLED_FLAG = 0x01;

/** A valid incoming `traceparent`: the trace, the caller's span and its flags. */
export interface TraceParent {
  readonly traceId: string;
  /** The caller's span id: the parent of the span that receives the header. */
  readonly parentId: string;
  /** `trace-flags`; only `sampled` is defined by version 00, and only it is passed on. */
  readonly sampled: boolean;
}

const LENGTH_00 = 55;

/** Value of a lower-case hex digit, or -1. */
function hexDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/** Whether `value[from, to)` is lower-case hex that is not all zeros. */
function nonZeroHex(value: string, from: number, to: number): boolean {
  let any = 0;
  for (let i = from; i < to; i++) {
    const digit = hexDigit(value.charCodeAt(i));
    if (digit < 0) return false;
    any |= digit;
  }
  return any !== 0;
}

/**
 * The `traceparent` header when it is valid, else `null` (the receiver then starts a new trace):
 * version `00` is exactly 55 characters; a later version (not `ff`) is read by its first four
 * fields when what follows them starts with `-`, as the specification asks of a version it does
 * not know. All-zero trace or parent ids, upper-case hex and a repeated header are invalid.
 * Checked character by character: a regular expression and its slices cost several times more
 * on a path every proxied request takes.
 */
export function parseTraceparent(value: string | string[] | undefined): TraceParent | null {
  if (typeof value !== 'string' || value.length < LENGTH_00) return null;
  const v0 = hexDigit(value.charCodeAt(0));
  const v1 = hexDigit(value.charCodeAt(1));
  if (v0 < 0 || v1 < 0 || (v0 === 15 && v1 === 15)) return null;
  if (value.length > LENGTH_00) {
    // Version 00 has nothing after the flags; a later one may, after a dash.
    if ((v0 === 0 && v1 === 0) || value.charCodeAt(LENGTH_00) !== 0x2d) return null;
  }
  if (
    value.charCodeAt(2) !== 0x2d ||
    value.charCodeAt(35) !== 0x2d ||
    value.charCodeAt(52) !== 0x2d ||
    !nonZeroHex(value, 3, 35) ||
    !nonZeroHex(value, 36, 52)
  ) {
    return null;
  }
  const f0 = hexDigit(value.charCodeAt(53));
  const f1 = hexDigit(value.charCodeAt(54));
  if (f0 < 0 || f1 < 0) return null;
  return {
    traceId: value.slice(3, 35),
    parentId: value.slice(36, 52),
    sampled: (f1 & SAMPLED_FLAG) !== 0,
  };
}

/** The version 00 `traceparent` naming `spanId` as the parent of whoever receives it. */
export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

/** At most this many list members (W3C Trace Context, tracestate). */
const MAX_MEMBERS = 32;
/** key "=" value; a key is simple (`vendor`) or multi-tenant (`tenant@vendor`), see the spec's ABNF. */
const MEMBER =
  /^(?:[a-z][a-z0-9_*/-]{0,255}|[a-z0-9][a-z0-9_*/-]{0,240}@[a-z][a-z0-9_*/-]{0,13})=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/**
 * The `tracestate` to pass on, or `null` when there is none or it is invalid (then it is dropped
 * whole: a vendor's entry is opaque, so a list that does not parse cannot be repaired). Empty
 * members and blanks around commas are allowed; keys must be unique; 32 members at most. Repeated
 * headers reach here joined by commas, which is how the list is defined to combine.
 */
export function validTracestate(value: string | string[] | undefined): string | null {
  if (typeof value !== 'string') return null;
  const keys: string[] = [];
  for (const raw of value.split(',')) {
    const member = raw.trim();
    if (member === '') continue;
    if (!MEMBER.test(member)) return null;
    const key = member.slice(0, member.indexOf('='));
    if (keys.includes(key) || keys.push(key) > MAX_MEMBERS) return null;
  }
  return keys.length === 0 ? null : value;
}
