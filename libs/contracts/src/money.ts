/**
 * Money crosses the wire as a decimal string with at most two fraction digits ("19.99")
 * and is computed in integer minor units, so no binary float ever rounds a price.
 */
export const MONEY_PATTERN = /^(0|[1-9]\d{0,11})(\.\d{1,2})?$/;

/** Parses "19.9" into 1990 minor units; throws on anything that is not a plain non-negative amount. */
export function toMinorUnits(amount: string): number {
  if (!MONEY_PATTERN.test(amount)) throw new RangeError(`not a money amount: ${amount}`);
  const [whole, fraction = ''] = amount.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}

/** Formats 1990 minor units as "19.90". */
export function fromMinorUnits(minor: number): string {
  if (!Number.isSafeInteger(minor) || minor < 0) throw new RangeError(`not an amount: ${minor}`);
  const whole = Math.floor(minor / 100);
  const cents = minor % 100;
  return `${whole}.${cents.toString().padStart(2, '0')}`;
}
