import { RoundRobinBalancer } from './round-robin-balancer';
import { TriedTargets, withTried } from './upstream-target';
import { equalTargets } from './test/balancer-targets';

describe('RoundRobinBalancer', () => {
  let now = 0;
  const targets = (n: number) => equalTargets(n, () => now);
  const origins = (balancer: RoundRobinBalancer, n: number, tried: TriedTargets = null) =>
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
    const list = targets(3);
    const balancer = new RoundRobinBalancer(list);
    expect(balancer.pick(list[0])?.target.origin).toBe('http://t1');
    expect(balancer.pick([list[1], list[2], list[0]])?.target.origin).toBe('http://t2');
  });

  it('should track tried targets by identity without a list for the first', () => {
    const [a, b] = targets(2);
    const first = withTried(null, a);
    expect(first).toBe(a);
    expect(withTried(first, a)).toBe(a);
    expect(withTried(first, b)).toEqual([a, b]);
  });

  it('should pick from a replaced target set at once and go on evenly', () => {
    const [a, b, c, d] = targets(4);
    const balancer = new RoundRobinBalancer([a, b]);
    expect(origins(balancer, 1)).toEqual(['http://t0']);
    balancer.replace([a, b, c]);
    expect(origins(balancer, 6)).toEqual([
      'http://t1',
      'http://t2',
      'http://t0',
      'http://t1',
      'http://t2',
      'http://t0',
    ]);
    // The cursor (past the end of the shorter set) starts over at its beginning.
    expect(balancer.pick()?.target.origin).toBe('http://t1');
    balancer.replace([d]);
    expect(origins(balancer, 2)).toEqual(['http://t3', 'http://t3']);
    balancer.replace([]);
    expect(balancer.pick()).toBeNull();
  });

  it('should not mistake a new target for a tried one after the set changed mid-request', () => {
    const [a, b, c] = targets(3);
    const balancer = new RoundRobinBalancer([a, b]);
    const tried = withTried(null, balancer.pick()!.target);
    expect(tried).toBe(a);
    // `a` leaves and `c` arrives in its place while the request waits to retry.
    balancer.replace([c, b]);
    expect(balancer.pick(tried)?.target.origin).toBe('http://t1');
    expect(balancer.pick(withTried(tried, b))?.target.origin).toBe('http://t2');
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
