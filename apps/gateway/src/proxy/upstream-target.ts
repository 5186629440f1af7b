import type { Dispatcher } from 'undici';
import type { TargetHealth } from './target-health';

/** A target handed out by the balancer; `trial` when it is the one request that decides an ejected target's return. */
export interface TargetPick {
  readonly target: UpstreamTarget;
  readonly trial: boolean;
}

/** One replica of a service: its keep-alive pool and its health. */
export class UpstreamTarget {
  /** Reused for every pick so that balancing allocates nothing. */
  readonly usual: TargetPick = { target: this, trial: false };
  readonly trialPick: TargetPick = { target: this, trial: true };
  /** Attempts dispatched to it whose response has not ended yet. */
  inFlight = 0;
  /** Out of the service's target set: no new request comes here, its pool drains and closes. */
  retired = false;

  constructor(
    readonly service: string,
    /** Stable id, never reused: a target that replaces one of the same origin gets a new one. */
    readonly index: number,
    readonly origin: string,
    readonly pool: Dispatcher,
    readonly health: TargetHealth,
    /** The configured target it comes from: itself, or the name that discovery resolved to it. */
    readonly source: string = origin,
    /** Its share under the weighted balancer, from its configured target. */
    readonly weight: number = 1,
  ) {}
}

/**
 * The targets one request has had an attempt on, by identity (so that a change of the target set
 * mid-request cannot confuse them): the first held as itself so that a request without a retry
 * allocates nothing, a list from the second on.
 */
export type TriedTargets = UpstreamTarget | readonly UpstreamTarget[] | null;

export function hasTried(tried: TriedTargets, target: UpstreamTarget): boolean {
  if (tried === null) return false;
  if (tried instanceof UpstreamTarget) return tried === target;
  return tried.includes(target);
}

/** `tried` with `target` added. */
export function withTried(tried: TriedTargets, target: UpstreamTarget): TriedTargets {
  if (tried === null) return target;
  if (hasTried(tried, target)) return tried;
  if (tried instanceof UpstreamTarget) return [tried, target];
  return [...tried, target];
}
