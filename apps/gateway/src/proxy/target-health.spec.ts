import { TargetHealth } from './target-health';

describe('TargetHealth', () => {
  let now = 1_000;
  const policy = { failures: 3, cooldownMs: 100, maxCooldownMs: 350 };
  const make = () => new TargetHealth(policy, () => now);
  beforeEach(() => (now = 1_000));

  it('should eject after the configured consecutive failures only', () => {
    const health = make();
    expect(health.failed(false)).toBe(false);
    expect(health.failed(false)).toBe(false);
    health.succeeded(false);
    expect(health.failed(false)).toBe(false);
    expect(health.failed(false)).toBe(false);
    expect(health.failed(false)).toBe(true);
    expect(health.healthy).toBe(false);
    expect(health.availability()).toBe('unavailable');
  });

  it('should keep the last target in rotation, counting on, and eject it once another is back', () => {
    const health = make();
    for (let i = 0; i < 5; i++) expect(health.failed(false, false)).toBe(false);
    expect(health.healthy).toBe(true);
    expect(health.snapshot().consecutiveFailures).toBe(3);
    expect(health.failed(false, true)).toBe(true);
    expect(health.healthy).toBe(false);
  });

  it('should offer exactly one trial once the cooldown is over', () => {
    const health = make();
    for (let i = 0; i < 3; i++) health.failed(false);
    now += 99;
    expect(health.availability()).toBe('unavailable');
    now += 1;
    expect(health.availability()).toBe('trial');
    health.beginTrial();
    expect(health.availability()).toBe('unavailable');
    expect(health.succeeded(true)).toBe(true);
    expect(health.availability()).toBe('ready');
    expect(health.healthy).toBe(true);
  });

  it('should eject again for twice as long when the trial fails, up to the cap', () => {
    const health = make();
    for (let i = 0; i < 3; i++) health.failed(false);
    const cooldowns: number[] = [];
    for (let round = 0; round < 4; round++) {
      const from = now;
      while (health.availability() !== 'trial') now += 1;
      cooldowns.push(now - from);
      health.beginTrial();
      expect(health.failed(true)).toBe(true);
    }
    expect(cooldowns).toEqual([100, 200, 350, 350]);
  });

  it('should start the cooldown over from the base after a successful trial', () => {
    const health = make();
    for (let i = 0; i < 3; i++) health.failed(false);
    now += 100;
    health.beginTrial();
    health.failed(true);
    now += 200;
    health.beginTrial();
    health.succeeded(true);
    for (let i = 0; i < 3; i++) health.failed(false);
    now += 100;
    expect(health.availability()).toBe('trial');
  });

  it('should not extend an ejection with failures of requests already in flight', () => {
    const health = make();
    for (let i = 0; i < 3; i++) health.failed(false);
    expect(health.failed(false)).toBe(false);
    now += 100;
    expect(health.availability()).toBe('trial');
  });

  it('should free the trial slot when the trial ends without a verdict', () => {
    const health = make();
    for (let i = 0; i < 3; i++) health.failed(false);
    now += 100;
    health.beginTrial();
    health.released(true);
    expect(health.availability()).toBe('trial');
  });

  it('should take a target out while its active check fails', () => {
    const health = make();
    health.activeResult(false);
    expect(health.availability()).toBe('unavailable');
    expect(health.healthy).toBe(false);
    health.activeResult(true);
    expect(health.availability()).toBe('ready');
  });

  it('should end a cooldown early when the active check passes, leaving the trial to decide', () => {
    const health = make();
    for (let i = 0; i < 3; i++) health.failed(false);
    health.activeResult(true);
    expect(health.availability()).toBe('trial');
    expect(health.healthy).toBe(false);
  });

  it('should report failures, ejections, the cooldown end and the last active check', () => {
    const health = make();
    expect(health.snapshot()).toEqual({
      healthy: true,
      ejected: false,
      consecutiveFailures: 0,
      cooldownUntil: null,
      ejections: 0,
      lastCheck: null,
    });
    health.failed(false);
    health.failed(false);
    expect(health.snapshot().consecutiveFailures).toBe(2);
    health.failed(false);
    now += 10;
    health.activeResult(false);
    expect(health.snapshot()).toEqual({
      healthy: false,
      ejected: true,
      consecutiveFailures: 0,
      cooldownUntil: 1_100,
      ejections: 1,
      lastCheck: { at: 1_010, up: false },
    });
    now += 90;
    health.beginTrial();
    health.failed(true);
    expect(health.snapshot()).toMatchObject({ ejections: 2, cooldownUntil: 1_300 });
  });
});
