import type { Dispatcher } from 'undici';
import { TargetHealth } from '../target-health';
import { UpstreamTarget } from '../upstream-target';

/**
 * Targets `http://t0`, `http://t1`… for the balancer specs, one per weight, never dialled. Each one
 * is ejected by its first failure for 10 ms of `clock`, so a spec moves time to bring it back.
 */
export function balancerTargets(weights: readonly number[], clock: () => number): UpstreamTarget[] {
  return weights.map(
    (weight, i) =>
      new UpstreamTarget(
        'svc',
        i,
        `http://t${i}`,
        {} as Dispatcher,
        new TargetHealth({ failures: 1, cooldownMs: 10, maxCooldownMs: 10 }, clock),
        `http://t${i}`,
        weight,
      ),
  );
}

/** `n` targets of weight 1. */
export function equalTargets(n: number, clock: () => number): UpstreamTarget[] {
  return balancerTargets(new Array<number>(n).fill(1), clock);
}
