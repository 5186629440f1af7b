import type { TargetPick, TriedTargets, UpstreamTarget } from './upstream-target';

/**
 * Picks a target of a service for each attempt, skipping ejected and failing ones and preferring
 * one the request has not tried. The target set is an immutable snapshot that `replace` swaps at
 * once; every pick reads the snapshot of its moment.
 */
export abstract class Balancer {
  constructor(protected current: readonly UpstreamTarget[]) {}

  /** The service's targets now. */
  get targets(): readonly UpstreamTarget[] {
    return this.current;
  }

  /** Swaps the target set. */
  replace(targets: readonly UpstreamTarget[]): void {
    this.current = targets;
  }

  /**
   * An available target, preferring one this request has not tried yet. `null` when none is
   * available: the caller answers 503 at once.
   */
  abstract pick(tried?: TriedTargets): TargetPick | null;

  /** Targets in rotation now. */
  healthyCount(): number {
    let healthy = 0;
    for (const target of this.current) if (target.health.healthy) healthy += 1;
    return healthy;
  }
}

/** The pick of `target`: its one trial when its ejection's cooldown is over. */
export function handOut(target: UpstreamTarget): TargetPick {
  if (target.health.availability() === 'trial') {
    target.health.beginTrial();
    return target.trialPick;
  }
  return target.usual;
}
