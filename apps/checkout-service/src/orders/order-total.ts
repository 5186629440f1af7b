/**
 * The exact total in minor units of `quantity` items at `unitPriceMinor` each. Computed in BigInt
 * so an overflowing product is refused instead of rounded.
 * @throws RangeError when an input is not a safe non-negative integer (quantity: positive), or
 * when the total exceeds Number.MAX_SAFE_INTEGER minor units.
 */
export function orderTotalMinor(unitPriceMinor: number, quantity: number): number {
  if (!Number.isSafeInteger(unitPriceMinor) || unitPriceMinor < 0) {
    throw new RangeError(`not a unit price in minor units: ${unitPriceMinor}`);
  }
  if (!Number.isSafeInteger(quantity) || quantity < 1) {
    throw new RangeError(`not a positive quantity: ${quantity}`);
  }
  const total = BigInt(unitPriceMinor) * BigInt(quantity);
  if (total > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`order total too large: ${total} minor units`);
  }
  return Number(total);
}
