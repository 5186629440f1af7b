import { TrafficWindow } from './traffic-window';

describe('TrafficWindow', () => {
  let now = 0;
  const make = () => new TrafficWindow(() => now);
  beforeEach(() => (now = 1_000_000));

  it('should count requests, 5xx answers and retries of the window', () => {
    const window = make();
    for (let i = 0; i < 7; i++) window.record(200, 0.002);
    window.record(502, 0.002);
    window.record(504, 0.002);
    window.record(499, 0.002);
    window.record(404, 0.002);
    window.retried();
    window.retried();
    now += 10_000;
    const snapshot = window.snapshot();
    expect(snapshot).toMatchObject({
      windowSeconds: 10,
      requests: 11,
      requestsPerSecond: 1.1,
      errors: 2,
      retries: 2,
      totals: { requests: 11, errors: 2, retries: 2 },
    });
    expect(snapshot.errorRate).toBeCloseTo(2 / 11, 10);
  });

  it('should report the 99th percentile within 10 % above the true value', () => {
    const window = make();
    for (let i = 0; i < 990; i++) window.record(200, 0.005);
    for (let i = 0; i < 10; i++) window.record(200, 0.25);
    const all = window.snapshot();
    expect(all.p99Ms).toBeGreaterThanOrEqual(5);
    expect(all.p99Ms).toBeLessThanOrEqual(5.5);
    window.record(200, 0.25);
    const tail = window.snapshot();
    expect(tail.p99Ms).toBeGreaterThanOrEqual(250);
    expect(tail.p99Ms).toBeLessThanOrEqual(275);
  });

  it('should have no percentile and no error rate without requests', () => {
    const snapshot = make().snapshot();
    expect(snapshot).toMatchObject({ requests: 0, errorRate: 0, p99Ms: null });
  });

  it('should forget seconds older than the window but keep the totals', () => {
    const window = make();
    window.record(500, 0.5);
    now += 30_000;
    window.record(200, 0.001);
    window.retried();
    now += 30_500;
    const later = window.snapshot();
    expect(later).toMatchObject({ windowSeconds: 60, requests: 1, errors: 0, retries: 1 });
    expect(later.p99Ms).toBeLessThanOrEqual(1.1);
    expect(later.totals).toEqual({ requests: 2, errors: 1, retries: 1 });
  });

  it('should clear a slot reused by a later second', () => {
    const window = make();
    for (let i = 0; i < 5; i++) window.record(503, 1);
    now += 60_000;
    window.record(200, 0.001);
    expect(window.snapshot()).toMatchObject({ requests: 1, errors: 0 });
  });
});
