import { TriedTargets } from './upstream-target';
import { WeightedBalancer } from './weighted-balancer';
import { balancerTargets } from './test/balancer-targets';

describe('WeightedBalancer', () => {
  let now = 0;
  const targets = (...weights: number[]) => balancerTargets(weights, () => now);
  const names = (balancer: WeightedBalancer, n: number, tried: TriedTargets = null) =>
    Array.from({ length: n }, () => balancer.pick(tried)?.target.origin.slice(7) ?? null).join(' ');
  const tally = (balancer: WeightedBalancer, n: number) => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const origin = balancer.pick()!.target.origin;
      counts[origin] = (counts[origin] ?? 0) + 1;
    }
    return counts;
  };

  it("should spread a cycle smoothly, in nginx's order", () => {
    expect(names(new WeightedBalancer(targets(5, 1, 1)), 7)).toBe('t0 t0 t1 t0 t2 t0 t0');
  });

  it('should give each target exactly its weight over whole cycles', () => {
    expect(tally(new WeightedBalancer(targets(3, 1)), 4_000)).toEqual({
      'http://t0': 3_000,
      'http://t1': 1_000,
    });
    expect(tally(new WeightedBalancer(targets(1, 1, 1)), 3)).toEqual({
      'http://t0': 1,
      'http://t1': 1,
      'http://t2': 1,
    });
  });

  it('should share an unavailable target out by the weights of the others', () => {
    const list = targets(2, 5, 1);
    list[1].health.activeResult(false);
    expect(tally(new WeightedBalancer(list), 300)).toEqual({
      'http://t0': 200,
      'http://t2': 100,
    });
  });

  it('should prefer a target the request has not tried, and fall back to a tried one', () => {
    const list = targets(10, 1);
    const balancer = new WeightedBalancer(list);
    expect(balancer.pick(list[0])?.target).toBe(list[1]);
    expect(balancer.pick([list[1], list[0]])?.target).toBe(list[0]);
  });

  it('should answer null when no target is available', () => {
    const list = targets(1, 2);
    for (const t of list) t.health.activeResult(false);
    expect(new WeightedBalancer(list).pick()).toBeNull();
  });

  it('should hand out one trial for an ejected target whose cooldown is over', () => {
    const list = targets(1, 1);
    list[0].health.failed(false);
    const balancer = new WeightedBalancer(list);
    expect(balancer.pick()?.target).toBe(list[1]);
    now += 10;
    expect(balancer.pick()).toEqual({ target: list[0], trial: true });
    expect(names(balancer, 2)).toBe('t1 t1');
  });

  it('should keep the scores of kept targets when the set is replaced', () => {
    const [a, b, c] = targets(3, 1, 1);
    const balancer = new WeightedBalancer([a, b]);
    expect(names(balancer, 2)).toBe('t0 t0');
    balancer.replace([b, a, c]);
    // a's and b's scores carry over (-2 and 2), c starts at 0.
    expect(names(balancer, 5)).toBe('t1 t0 t2 t0 t0');
    balancer.replace([]);
    expect(balancer.pick()).toBeNull();
  });
});
