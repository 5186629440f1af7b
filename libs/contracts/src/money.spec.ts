import { fromMinorUnits, toMinorUnits } from './money';

describe('money', () => {
  it('should add 0.10 and 0.20 to exactly 0.30', () => {
    expect(fromMinorUnits(toMinorUnits('0.10') + toMinorUnits('0.20'))).toBe('0.30');
  });

  it('should read one fraction digit as tenths', () => {
    expect(toMinorUnits('19.9')).toBe(1990);
    expect(toMinorUnits('7')).toBe(700);
  });

  it.each(['-1', '1.234', 'abc', '', '01.00', '1e3', ' 1'])('should refuse %p', (bad) => {
    expect(() => toMinorUnits(bad)).toThrow(RangeError);
  });

  it('should format minor units with two fraction digits', () => {
    expect(fromMinorUnits(5)).toBe('0.05');
    expect(fromMinorUnits(123456)).toBe('1234.56');
  });
});
