import { Balancer, handOut } from './balancer';
import { hasTried, TargetPick, TriedTargets, UpstreamTarget } from './upstream-target';

/**
 * Least request by the power of two random choices: of two distinct available targets drawn at
 * random, the one with fewer attempts in flight (the first drawn on a tie). Two draws keep a slow
 * target's share low without every gateway replica piling onto the one least-loaded target.
 */
export class LeastRequestBalancer extends Balancer {
  constructor(
    targets: readonly UpstreamTarget[],
    /** Uniform in [0, 1), like Math.random. */
    private readonly random: () => number,
  ) {
    super(targets);
  }

  pick(tried: TriedTargets = null): TargetPick | null {
    const targets = this.current;
    let untried = true;
    let count = eligibleCount(targets, tried, untried);
    if (count === 0) {
      untried = false;
      count = eligibleCount(targets, tried, untried);
      if (count === 0) return null;
    }
    const first = this.draw(count);
    if (count === 1) return handOut(nthEligible(targets, tried, untried, 0));
    let second = this.draw(count - 1);
    if (second >= first) second += 1;
    const a = nthEligible(targets, tried, untried, first);
    const b = nthEligible(targets, tried, untried, second);
    return handOut(b.inFlight < a.inFlight ? b : a);
  }

  private draw(below: number): number {
    const n = Math.floor(this.random() * below);
    return n < below ? n : below - 1;
  }
}

/** Available, and (when `untried`) not tried by the request; with `untried` false, any available. */
function eligible(target: UpstreamTarget, tried: TriedTargets, untried: boolean): boolean {
  if (target.health.availability() === 'unavailable') return false;
  return !untried || tried === null || !hasTried(tried, target);
}

function eligibleCount(
  targets: readonly UpstreamTarget[],
  tried: TriedTargets,
  untried: boolean,
): number {
  let count = 0;
  for (const target of targets) if (eligible(target, tried, untried)) count += 1;
  return count;
}

function nthEligible(
  targets: readonly UpstreamTarget[],
  tried: TriedTargets,
  untried: boolean,
  n: number,
): UpstreamTarget {
  let seen = 0;
  for (const target of targets) {
    if (!eligible(target, tried, untried)) continue;
    if (seen === n) return target;
    seen += 1;
  }
  throw new Error(`no eligible target number ${n} among ${targets.length}`);
}
