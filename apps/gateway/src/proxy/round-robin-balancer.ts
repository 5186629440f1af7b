import { hasTried, TargetPick, TriedTargets, UpstreamTarget } from './upstream-target';

/**
 * Round-robin over a service's targets that are in rotation, skipping ejected and failing ones.
 * The target set is an immutable snapshot that `replace` swaps at once; every pick reads the
 * snapshot of its moment.
 */
export class RoundRobinBalancer {
  private cursor = 0;

  constructor(private current: readonly UpstreamTarget[]) {}

  /** The service's targets now. */
  get targets(): readonly UpstreamTarget[] {
    return this.current;
  }

  /** Swaps the target set; the rotation goes on from the same position. */
  replace(targets: readonly UpstreamTarget[]): void {
    this.current = targets;
  }

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

  /** Targets in rotation now. */
  healthyCount(): number {
    let healthy = 0;
    for (const target of this.current) if (target.health.healthy) healthy += 1;
    return healthy;
  }

  private take(targets: readonly UpstreamTarget[], i: number): TargetPick {
    const target = targets[i];
    this.cursor = i + 1 === targets.length ? 0 : i + 1;
    if (target.health.availability() === 'trial') {
      target.health.beginTrial();
      return target.trialPick;
    }
    return target.usual;
  }
}
