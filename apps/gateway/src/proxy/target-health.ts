import type { PassiveHealthConfig } from '../routing/gateway-config';

/** What the balancer may do with a target right now. */
export type Availability = 'ready' | 'trial' | 'unavailable';

/** A copy of a target's health for reports; times are `now()` values (epoch ms by default). */
export interface TargetHealthSnapshot {
  readonly healthy: boolean;
  readonly ejected: boolean;
  readonly consecutiveFailures: number;
  /** End of the current ejection's cooldown, or `null` when not ejected. */
  readonly cooldownUntil: number | null;
  /** Ejections since start. */
  readonly ejections: number;
  /** The last active check, or `null` before the first one answered. */
  readonly lastCheck: { readonly at: number; readonly up: boolean } | null;
}

/**
 * Health of one target as seen by the gateway: active checks mark it up or down; passive checks
 * eject it after consecutive failed requests (each request counts once) for a cooldown that doubles on every ejection in a
 * row (capped), after which exactly one trial request decides whether it returns.
 */
export class TargetHealth {
  /** Result of the last active check; optimistic until the first one answers. */
  private activeUp = true;
  private consecutiveFailures = 0;
  private ejected = false;
  private cooldownUntil = 0;
  /** Ejections in a row without a successful trial in between. */
  private ejections = 0;
  private trialInFlight = false;
  private ejectionsTotal = 0;
  /** `now()` of the last active check; 0 before the first. */
  private lastCheckAt = 0;

  constructor(
    private readonly policy: PassiveHealthConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** In rotation: its active check passes and it is not ejected. */
  get healthy(): boolean {
    return this.activeUp && !this.ejected;
  }

  get isEjected(): boolean {
    return this.ejected;
  }

  availability(): Availability {
    if (!this.activeUp) return 'unavailable';
    if (!this.ejected) return 'ready';
    if (this.trialInFlight || this.now() < this.cooldownUntil) return 'unavailable';
    return 'trial';
  }

  /** Its state now, for the status report. */
  snapshot(): TargetHealthSnapshot {
    return {
      healthy: this.healthy,
      ejected: this.ejected,
      consecutiveFailures: this.consecutiveFailures,
      cooldownUntil: this.ejected ? this.cooldownUntil : null,
      ejections: this.ejectionsTotal,
      lastCheck: this.lastCheckAt === 0 ? null : { at: this.lastCheckAt, up: this.activeUp },
    };
  }

  /** The balancer hands this target its one trial request. */
  beginTrial(): void {
    this.trialInFlight = true;
  }

  /** An attempt got a usable answer. Returns true when a trial brought the target back. */
  succeeded(trial: boolean): boolean {
    this.consecutiveFailures = 0;
    if (!trial) return false;
    this.trialInFlight = false;
    this.ejected = false;
    this.ejections = 0;
    return true;
  }

  /**
   * A request failed on this target (connection, timeout, reset, or a 502/503/504 the replica did
   * not answer for itself). Returns true when this ejected the target. With `canEject` false (it
   * is the last target of its service in rotation) the failures are counted but it stays in: an
   * ejection would only turn every request into a 503 without trying, and a replica that is really
   * gone fails its active check.
   */
  failed(trial: boolean, canEject = true): boolean {
    if (trial) {
      this.trialInFlight = false;
      this.eject();
      return true;
    }
    // Attempts already in flight when the target was ejected must not extend its cooldown.
    if (this.ejected) return false;
    if (this.consecutiveFailures < this.policy.failures) this.consecutiveFailures += 1;
    if (this.consecutiveFailures < this.policy.failures || !canEject) return false;
    this.eject();
    return true;
  }

  /** An attempt ended without a verdict (the client left): a trial slot becomes free again. */
  released(trial: boolean): void {
    if (trial) this.trialInFlight = false;
  }

  /** Records an active check. A passing check ends an ejection's cooldown: the next request is the trial. */
  activeResult(up: boolean): void {
    this.activeUp = up;
    this.lastCheckAt = this.now();
    if (up && this.ejected) this.cooldownUntil = Math.min(this.cooldownUntil, this.now());
  }

  private eject(): void {
    this.ejected = true;
    this.ejections += 1;
    this.ejectionsTotal += 1;
    this.consecutiveFailures = 0;
    const cooldown = Math.min(
      this.policy.maxCooldownMs,
      this.policy.cooldownMs * 2 ** Math.min(this.ejections - 1, 30),
    );
    this.cooldownUntil = this.now() + cooldown;
  }
}
