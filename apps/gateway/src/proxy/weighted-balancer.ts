import { Balancer, handOut } from './balancer';
import { hasTried, TargetPick, TriedTargets, UpstreamTarget } from './upstream-target';

/**
 * Smooth weighted round-robin, nginx's algorithm: at each pick every candidate's running score
 * grows by its weight, the highest score wins and gives back the sum of the candidates' weights.
 * Over a whole cycle (the sum of the weights) each target gets exactly its weight of picks, spread
 * out (5:1:1 goes a a b a c a a, not a a a a a b c).
 */
export class WeightedBalancer extends Balancer {
  /** Running score of each target, at its position in the current set. */
  private scores: number[];

  constructor(targets: readonly UpstreamTarget[]) {
    super(targets);
    this.scores = targets.map(() => 0);
  }

  /** Swaps the target set; a kept target keeps its score, a new one starts at 0. */
  override replace(targets: readonly UpstreamTarget[]): void {
    const before = this.current;
    const scores = this.scores;
    this.scores = targets.map((target) => {
      const i = before.indexOf(target);
      return i < 0 ? 0 : scores[i];
    });
    super.replace(targets);
  }

  pick(tried: TriedTargets = null): TargetPick | null {
    const chosen = this.choose(tried, true) ?? this.choose(tried, false);
    return chosen === null ? null : handOut(chosen);
  }

  /** The winner among the available targets (untried ones only, when `untried`), scores updated. */
  private choose(tried: TriedTargets, untried: boolean): UpstreamTarget | null {
    const targets = this.current;
    const scores = this.scores;
    let total = 0;
    let best = -1;
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i];
      if (target.health.availability() === 'unavailable') continue;
      if (untried && tried !== null && hasTried(tried, target)) continue;
      scores[i] += target.weight;
      total += target.weight;
      if (best < 0 || scores[i] > scores[best]) best = i;
    }
    if (best < 0) return null;
    scores[best] -= total;
    return targets[best];
  }
}
