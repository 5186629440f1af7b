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

  constructor(
    readonly service: string,
    /** Position in the service's target list (at most 31, a bit in a request's tried-set). */
    readonly index: number,
    readonly origin: string,
    readonly pool: Dispatcher,
    readonly health: TargetHealth,
  ) {}
}
