import type { Dispatcher } from 'undici';
import { RoundRobinBalancer } from './round-robin-balancer';
import { TargetHealth } from './target-health';
import { UpstreamTarget } from './upstream-target';

describe('RoundRobinBalancer', () => {
  let now = 0;
  const targets = (n: number) =>
    Array.from(
      { length: n },
      (_, i) =>
        new UpstreamTarget(
          'svc',
          i,
          `http://t${i}`,
          {} as Dispatcher,
          new TargetHealth({ failures: 1, cooldownMs: 10, maxCooldownMs: 10 }, () => now),
        ),
    );
  const origins = (balancer: RoundRobinBalancer, n: number, tried = 0) =>
    Array.from({ length: n }, () => balancer.pick(tried)?.target.origin ?? null);

  it('should rotate through every target in order', () => {
    expect(origins(new RoundRobinBalancer(targets(3)), 6)).toEqual([
      'http://t0',
      'http://t1',
      'http://t2',
      'http://t0',
      'http://t1',
      'http://t2',
    ]);
  });

  it('should skip an unavailable target and share its turn evenly', () => {
    const list = targets(3);
    list[1].health.activeResult(false);
    expect(origins(new RoundRobinBalancer(list), 4)).toEqual([
      'http://t0',
      'http://t2',
      'http://t0',
      'http://t2',
    ]);
  });

  it('should prefer a target the request has not tried', () => {
    const balancer = new RoundRobinBalancer(targets(3));
    expect(balancer.pick(0b001)?.target.origin).toBe('http://t1');
    expect(balancer.pick(0b111)?.target.origin).toBe('http://t2');
  });

  it('should answer null when no target is available', () => {
    const list = targets(2);
    for (const t of list) t.health.activeResult(false);
    expect(new RoundRobinBalancer(list).pick()).toBeNull();
  });

  it('should hand out one trial for an ejected target whose cooldown is over', () => {
    const list = targets(2);
    list[0].health.failed(false);
    const balancer = new RoundRobinBalancer(list);
    expect(balancer.pick()?.target.origin).toBe('http://t1');
    now += 10;
    const trial = balancer.pick();
    expect(trial).toEqual({ target: list[0], trial: true });
    expect(origins(balancer, 2)).toEqual(['http://t1', 'http://t1']);
  });

  it('should count the targets in rotation', () => {
    const list = targets(3);
    list[2].health.activeResult(false);
    expect(new RoundRobinBalancer(list).healthyCount()).toBe(2);
  });
});
