import { Balancer, handOut } from './balancer';
import { hasTried, TargetPick, TriedTargets, UpstreamTarget } from './upstream-target';

/**
 * Round-robin over a service's targets that are in rotation, skipping ejected and failing ones.
 * A replaced target set is rotated on from the same position.
 */
export class RoundRobinBalancer extends Balancer {
  private cursor = 0;

  /**
   * The next available target, preferring one this request has not tried yet. `null` when none is
   * available: the caller answers 503 at once.
   */
  pick(tried: TriedTargets = null): TargetPick | null {
    const targets = this.current;
    const count = targets.length;
    const start = this.cursor < count ? this.cursor : 0;
    let fallback = -1;
    for (let step = 0; step < count; step++) {
      let i = start + step;
      if (i >= count) i -= count;
      const target = targets[i];
      if (target.health.availability() === 'unavailable') continue;
      if (tried !== null && hasTried(tried, target)) {
        if (fallback < 0) fallback = i;
        continue;
      }
      return this.take(targets, i);
    }
    return fallback < 0 ? null : this.take(targets, fallback);
  }

  private take(targets: readonly UpstreamTarget[], i: number): TargetPick {
    this.cursor = i + 1 === targets.length ? 0 : i + 1;
    return handOut(targets[i]);
  }
}
