import type { TargetPick, UpstreamTarget } from './upstream-target';

/** Round-robin over a service's targets that are in rotation, skipping ejected and failing ones. */
export class RoundRobinBalancer {
  private cursor = 0;

  constructor(private readonly targets: readonly UpstreamTarget[]) {}

  /**
   * The next available target, preferring one this request has not tried yet (bit `i` of `tried`
   * set = `targets[i]` tried). `null` when none is available: the caller answers 503 at once.
   */
  pick(tried = 0): TargetPick | null {
    const count = this.targets.length;
    let fallback = -1;
    for (let step = 0; step < count; step++) {
      let i = this.cursor + step;
      if (i >= count) i -= count;
      if (this.targets[i].health.availability() === 'unavailable') continue;
      if ((tried & (1 << i)) !== 0) {
        if (fallback < 0) fallback = i;
        continue;
      }
      return this.take(i);
    }
    return fallback < 0 ? null : this.take(fallback);
  }

  /** Targets in rotation now. */
  healthyCount(): number {
    let healthy = 0;
    for (const target of this.targets) if (target.health.healthy) healthy += 1;
    return healthy;
  }

  private take(i: number): TargetPick {
    const target = this.targets[i];
    this.cursor = i + 1 === this.targets.length ? 0 : i + 1;
    if (target.health.availability() === 'trial') {
      target.health.beginTrial();
      return target.trialPick;
    }
    return target.usual;
  }
}
