import { LeastRequestBalancer } from './least-request-balancer';
import { equalTargets } from './test/balancer-targets';

describe('LeastRequestBalancer', () => {
  let now = 0;
  const targets = (n: number) => equalTargets(n, () => now);
  /** A random source that returns `values` in turn. */
  const sequence = (...values: number[]) => {
    let i = 0;
    return () => values[i++ % values.length];
  };

  it('should send to the one of two drawn targets with fewer attempts in flight', () => {
    const list = targets(4);
    list[1].inFlight = 5;
    list[3].inFlight = 2;
    // 0.25 of 4 -> t1; 0.9 of the 3 others -> t3.
    const balancer = new LeastRequestBalancer(list, sequence(0.25, 0.9));
    expect(balancer.pick()?.target).toBe(list[3]);
    list[3].inFlight = 9;
    expect(balancer.pick()?.target).toBe(list[1]);
  });

  it('should draw two distinct targets and keep the first on a tie', () => {
    const list = targets(3);
    // 0.5 of 3 -> t1; 0.5 of the 2 others -> 1, at or past t1's place, so t2.
    const balancer = new LeastRequestBalancer(list, sequence(0.5, 0.5));
    expect(balancer.pick()?.target).toBe(list[1]);
    list[1].inFlight = 1;
    expect(balancer.pick()?.target).toBe(list[2]);
  });

  it('should draw among available targets only', () => {
    const list = targets(3);
    list[0].health.activeResult(false);
    list[2].inFlight = 3;
    // 0 of the 2 available -> t1, then t2; t1 has fewer in flight.
    const balancer = new LeastRequestBalancer(list, sequence(0, 0));
    expect(balancer.pick()?.target).toBe(list[1]);
    list[1].health.activeResult(false);
    expect(balancer.pick()?.target).toBe(list[2]);
  });

  it('should prefer a target the request has not tried, and fall back to a tried one', () => {
    const list = targets(3);
    list[2].inFlight = 100;
    const balancer = new LeastRequestBalancer(list, sequence(0, 0));
    expect(balancer.pick([list[0], list[1]])?.target).toBe(list[2]);
    expect(balancer.pick(list[0])?.target).toBe(list[1]);
    expect(balancer.pick([list[0], list[1], list[2]])?.target).toBe(list[0]);
  });

  it('should handle a random source that returns values next to 1', () => {
    const list = targets(2);
    const balancer = new LeastRequestBalancer(list, sequence(0.999_999_999_999));
    expect(balancer.pick()?.target).toBe(list[1]);
  });

  it('should answer null when no target is available, and pick from a replaced set', () => {
    const list = targets(2);
    for (const t of list) t.health.activeResult(false);
    const balancer = new LeastRequestBalancer(list, Math.random);
    expect(balancer.pick()).toBeNull();
    const [fresh] = targets(1);
    balancer.replace([fresh]);
    expect(balancer.pick()?.target).toBe(fresh);
  });

  it('should hand out one trial for an ejected target whose cooldown is over', () => {
    const list = targets(2);
    list[0].health.failed(false);
    const balancer = new LeastRequestBalancer(list, sequence(0, 0));
    expect(balancer.pick()?.target).toBe(list[1]);
    now += 10;
    expect(balancer.pick()).toEqual({ target: list[0], trial: true });
    expect(balancer.pick()?.target).toBe(list[1]);
  });

  it('should stop sending to a target once it holds an attempt and the others hold none', () => {
    const list = targets(4);
    // A fixed-seed generator (mulberry32), so the draws are the same on every run.
    let seed = 42;
    const seeded = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
    };
    const balancer = new LeastRequestBalancer(list, seeded);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4_000; i++) {
      const target = balancer.pick()!.target;
      counts[target.index] += 1;
      // t0 never answers; the others answer before the next pick.
      if (target.index === 0) target.inFlight += 1;
    }
    // t0 wins a tie as the first drawn, once; after that every draw of it meets an idle target.
    expect(counts[0]).toBe(1);
    expect(counts.reduce((a, b) => a + b)).toBe(4_000);
  });
});
