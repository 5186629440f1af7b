import { fromMinorUnits, toMinorUnits } from '@app/contracts/money';
import fc from 'fast-check';
import { orderTotalMinor } from './order-total';

describe('orderTotalMinor', () => {
  it.each([
    ['0.10', 3, '0.30'],
    ['19.99', 3, '59.97'],
    ['0.01', 10_000, '100.00'],
    ['0', 5, '0.00'],
    ['999999999999.99', 1, '999999999999.99'],
  ])('should price %s x %d at exactly %s', (unit, quantity, total) => {
    expect(fromMinorUnits(orderTotalMinor(toMinorUnits(unit), quantity))).toBe(total);
  });

  it('should equal the unit price added quantity times', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.integer({ min: 1, max: 500 }),
        (unit, q) => {
          let sum = 0;
          for (let i = 0; i < q; i++) sum += unit;
          expect(orderTotalMinor(unit, q)).toBe(sum);
        },
      ),
    );
  });

  it('should refuse a total beyond the largest safe integer instead of rounding it', () => {
    expect(() => orderTotalMinor(99_999_999_999_999, 10_000)).toThrow(/too large/);
    expect(orderTotalMinor(Number.MAX_SAFE_INTEGER, 1)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it.each([0, -1, 1.5, Number.NaN])('should refuse the quantity %p', (quantity) => {
    expect(() => orderTotalMinor(100, quantity)).toThrow(RangeError);
  });

  it.each([-1, 0.5])('should refuse the unit price %p', (unit) => {
    expect(() => orderTotalMinor(unit, 1)).toThrow(RangeError);
  });
});
