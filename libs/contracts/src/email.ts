import { domainToASCII } from 'node:url';

/**
 * The one spelling of an email address under which an account is stored, looked up at login and
 * compared at sign-up and on change (user-service), and counted by the gateway's login limit:
 * - surrounding white space is dropped;
 * - Unicode NFKC, so compatibility forms (full-width `ａ`, ligatures) become their plain letters;
 * - lower case throughout: the local part is treated as case-insensitive (as every large mail
 *   provider does), so `Ada@x` and `ada@x` are one account;
 * - the domain in its ASCII (IDNA / punycode) form, so `bücher.de` and `xn--bcher-kva.de` are one.
 * Quoted local parts (RFC 5321 `"a b"@x`) are refused by validation before this runs.
 * Returns the trimmed, lower-cased input when it has no usable domain; validation refuses it.
 */
export function canonicalEmail(raw: string): string {
  const address = raw.trim().normalize('NFKC').toLowerCase();
  const at = address.lastIndexOf('@');
  if (at <= 0) return address;
  const domain = domainToASCII(address.slice(at + 1));
  return domain ? `${address.slice(0, at)}@${domain}` : address;
}

/** Letters from other scripts drawn like Latin ones (after NFKC and lower case), from UTS #39. */
const CONFUSABLES: Record<string, string> = {
  а: 'a',
  в: 'b',
  е: 'e',
  ё: 'e',
  һ: 'h',
  і: 'i',
  ї: 'i',
  ј: 'j',
  к: 'k',
  м: 'm',
  н: 'h',
  о: 'o',
  р: 'p',
  с: 'c',
  т: 't',
  у: 'y',
  х: 'x',
  ѕ: 's',
  ԁ: 'd',
  ԛ: 'q',
  ԝ: 'w',
  ɡ: 'g',
  ı: 'i',
  α: 'a',
  β: 'b',
  ε: 'e',
  η: 'n',
  ι: 'i',
  κ: 'k',
  ν: 'v',
  ο: 'o',
  ρ: 'p',
  τ: 't',
  υ: 'u',
  χ: 'x',
  '0': 'o',
  '1': 'l',
  '|': 'l',
};

/**
 * What an address looks like (UTS #39 skeleton, reduced): confusable letters mapped to the Latin
 * letter they resemble, `rn` read as `m`, marks that draw nothing dropped. Two accounts must not
 * share a skeleton, so `pаypal@x` (Cyrillic а) cannot sign up beside `paypal@x`.
 */
export function emailSkeleton(canonical: string): string {
  const mapped = [...canonical.normalize('NFD').replace(/[\u200b-\u200d\u2060\ufeff]/g, '')]
    .map((ch) => CONFUSABLES[ch] ?? ch)
    .join('')
    .normalize('NFC');
  return mapped.replace(/rn/g, 'm');
}
