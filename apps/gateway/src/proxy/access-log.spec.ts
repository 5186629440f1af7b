import { decimalMs, isoTime } from './access-log';

describe('decimalMs', () => {
  it('writes a latency rounded to the microsecond as String() writes the number', () => {
    const samples = [0, 0.0004, 0.0005, 0.001, 0.01, 0.1, 0.5, 1, 1.5, 1.05, 1.005, 12.34, 100.1];
    for (let i = 0; i < 20_000; i++) samples.push(i * 0.000731, i * 0.1237, i * 17.0003);
    samples.push(59_999.999, 123_456.789, 3_600_000);
    for (const ms of samples) {
      const rounded = Math.round(ms * 1000) / 1000;
      expect([ms, decimalMs(rounded)]).toEqual([ms, String(rounded)]);
    }
  });
});

describe('isoTime', () => {
  afterEach(() => jest.useRealTimers());

  it('writes the time as toISOString does, across milliseconds, seconds and days', () => {
    jest.useFakeTimers();
    const start = Date.UTC(2026, 11, 31, 23, 59, 58, 990);
    for (let ms = start; ms < start + 2_100; ms += 7) {
      jest.setSystemTime(ms);
      expect(isoTime()).toBe(new Date(ms).toISOString());
      // Twice in one millisecond: the same text.
      expect(isoTime()).toBe(new Date(ms).toISOString());
    }
  });
});
