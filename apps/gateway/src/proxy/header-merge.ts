import type { OutgoingHttpHeaders } from 'node:http';

/** Response headers whose value is a comma-separated list: merged, never replaced. */
const LIST_HEADERS = new Set(['vary']);

/**
 * Adds `extra` to `into`. A list header present in both keeps every value once (`Vary: Accept`
 * and `Vary: Origin` become `Vary: Accept, Origin`; `*` stands for every value, so it stays alone);
 * any other header of `extra` replaces the one in `into`.
 */
export function mergeHeaders(into: OutgoingHttpHeaders, extra: OutgoingHttpHeaders): void {
  for (const name of Object.keys(extra)) {
    const value = extra[name];
    if (value === undefined) continue;
    const before = into[name];
    into[name] = before !== undefined && LIST_HEADERS.has(name) ? mergedList(before, value) : value;
  }
}

function mergedList(
  before: NonNullable<OutgoingHttpHeaders[string]>,
  added: NonNullable<OutgoingHttpHeaders[string]>,
): string {
  const items: string[] = [];
  const seen = new Set<string>();
  for (const part of [before, added]) {
    const text = Array.isArray(part) ? part.join(',') : String(part);
    for (const token of text.split(',')) {
      const item = token.trim();
      if (item === '*') return '*';
      if (item === '' || seen.has(item.toLowerCase())) continue;
      seen.add(item.toLowerCase());
      items.push(item);
    }
  }
  return items.join(', ');
}
